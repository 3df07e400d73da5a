/**
 * HTTP front of the devnet: the toncenter v2 API (JSON-RPC at
 * /api/v2/jsonRPC and REST-style /api/v2/<method>), plus admin endpoints
 * (time travel, faucet), a readiness probe, devnet information and the
 * explorer (./explorer.ts) at /explorer/.
 */
import Fastify, { FastifyReply } from 'fastify';
import pino, { Logger } from 'pino';
import { Cell, Dictionary, toNano } from '@ton/core';
import { AddressInfo } from 'net';
import { z } from 'zod';
import { DevnetChain, TxRecord } from './chain';
import { DevnetConfig, DevnetConfigInput, parseDevnetConfig } from './config';
import { registerExplorer } from './explorer';
import { ToncenterError, badRequest, blockIdExt, decodeStack, encodeStack, encodeTransaction, parseAddress, parseBoc, parseHash, parseInteger, parseOptionalBoc } from './toncenter';
import { knownWalletCodes } from './wallets';
import { JSON_RPC_PATH } from '../wrappers/devnet';

type Params = Record<string, unknown>;
type Method = (p: Params) => Promise<unknown> | unknown;

const ZERO_HASH = Buffer.alloc(32).toString('base64');

function txId(lt: bigint | undefined, hash: Buffer | undefined) {
    return { '@type': 'internal.transactionId', lt: (lt ?? 0n).toString(), hash: hash ? hash.toString('base64') : ZERO_HASH };
}

function optionalInteger(p: Params, key: string): bigint | undefined {
    const v = p[key];
    return v === undefined || v === null || v === '' ? undefined : parseInteger(v, key);
}

function txList(records: TxRecord[]) {
    return records.map((r) => encodeTransaction(r.tx, r.account));
}

/** The toncenter v2 methods, keyed by name. */
export function toncenterMethods(chain: DevnetChain): Record<string, Method> {
    const walletCodes = knownWalletCodes();
    const mcBlock = () => blockIdExt(-1, chain.seqno);

    const addressInformation = async (p: Params) => {
        const address = parseAddress(p.address);
        const a = await chain.account(address);
        return {
            '@type': 'raw.fullAccountState',
            balance: a.balance.toString(),
            extra_currencies: [],
            code: a.code ? a.code.toBoc().toString('base64') : '',
            data: a.data ? a.data.toBoc().toString('base64') : '',
            last_transaction_id: txId(a.lastTx?.lt, a.lastTx?.hash),
            block_id: mcBlock(),
            frozen_hash: a.frozenHash ? a.frozenHash.toString('base64') : '',
            sync_utime: chain.now(),
            state: a.state,
        };
    };

    const locate = (which: 'result' | 'source') => (p: Params) => {
        const source = parseAddress(p.source, 'source');
        const destination = parseAddress(p.destination, 'destination');
        const createdLt = parseInteger(p.created_lt, 'created_lt');
        const rec = which === 'result' ? chain.locateResultTx(source, destination, createdLt) : chain.locateSourceTx(source, destination, createdLt);
        if (!rec) throw new ToncenterError(404, `transaction not found for message ${source.toString()} -> ${destination.toString()} created at lt ${createdLt}`);
        return encodeTransaction(rec.tx, rec.account);
    };

    const sendBoc = (p: Params) => chain.sendExternal(parseBoc(p.boc));

    return {
        getAddressInformation: addressInformation,
        getAddressBalance: async (p) => (await chain.account(parseAddress(p.address))).balance.toString(),
        getAddressState: async (p) => (await chain.account(parseAddress(p.address))).state,
        getExtendedAddressInformation: async (p) => {
            const info = await addressInformation(p);
            return {
                '@type': 'fullAccountState',
                address: { '@type': 'accountAddress', account_address: parseAddress(p.address).toString() },
                balance: info.balance,
                last_transaction_id: info.last_transaction_id,
                block_id: info.block_id,
                sync_utime: info.sync_utime,
                account_state: { '@type': info.state === 'active' ? 'raw.accountState' : 'uninited.accountState', code: info.code, data: info.data, frozen_hash: info.frozen_hash },
                revision: 0,
            };
        },
        getWalletInformation: async (p) => {
            const address = parseAddress(p.address);
            const a = await chain.account(address);
            const known = a.code ? walletCodes.get(a.code.hash().toString('hex')) : undefined;
            const result: Record<string, unknown> = {
                wallet: known !== undefined,
                balance: a.balance.toString(),
                account_state: a.state,
                last_transaction_id: txId(a.lastTx?.lt, a.lastTx?.hash),
            };
            if (known) {
                result.wallet_type = known.type;
                const seqno = await chain.runGetMethod(address, 'seqno', []);
                if (seqno.exitCode === 0 && seqno.stack[0]?.type === 'int') result.seqno = Number(seqno.stack[0].value);
                const id = await chain.runGetMethod(address, 'get_subwallet_id', []);
                if (id.exitCode === 0 && id.stack[0]?.type === 'int') result.wallet_id = Number(id.stack[0].value);
            }
            return result;
        },
        runGetMethod: async (p) => {
            const address = parseAddress(p.address);
            let method: string | number;
            if (typeof p.method === 'number' && Number.isInteger(p.method)) method = p.method;
            else if (typeof p.method === 'string' && /^-?[0-9]+$/.test(p.method)) method = Number(p.method);
            else if (typeof p.method === 'string' && p.method.length > 0) method = p.method;
            else throw badRequest('method must be a get method name or id');
            const stack = decodeStack(p.stack);
            const a = await chain.account(address);
            const res = await chain.runGetMethod(address, method, stack);
            return {
                '@type': 'smc.runResult',
                gas_used: res.gasUsed,
                stack: encodeStack(res.stack),
                exit_code: res.exitCode,
                block_id: mcBlock(),
                last_transaction_id: txId(a.lastTx?.lt, a.lastTx?.hash),
            };
        },
        sendBoc: (p) => {
            sendBoc(p);
            return { '@type': 'ok' };
        },
        sendBocReturnHash: (p) => {
            const sent = sendBoc(p);
            return { '@type': 'raw.extMessageInfo', hash: sent.hash.toString('base64'), hash_norm: sent.hashNorm.toString('base64') };
        },
        estimateFee: async (p) => {
            const address = parseAddress(p.address);
            const body = parseOptionalBoc(p.body, 'body') ?? new Cell();
            const code = parseOptionalBoc(p.init_code, 'init_code');
            const data = parseOptionalBoc(p.init_data, 'init_data');
            const ignore = p.ignore_chksig === undefined ? true : p.ignore_chksig === true || p.ignore_chksig === 'true';
            const fees = await chain.estimateFee(address, body, { code, data }, ignore);
            return { '@type': 'query.fees', source_fees: { '@type': 'fees', ...fees }, destination_fees: [] };
        },
        getTransactions: (p) => {
            const address = parseAddress(p.address);
            const limit = optionalInteger(p, 'limit') ?? 10n;
            if (limit < 1n || limit > 1000n) throw badRequest('limit must be between 1 and 1000');
            const lt = optionalInteger(p, 'lt');
            const hash = p.hash === undefined || p.hash === null || p.hash === '' ? undefined : parseHash(p.hash);
            if (hash && lt === undefined) throw badRequest('hash requires lt');
            const toLt = optionalInteger(p, 'to_lt');
            return txList(chain.transactions(address, { limit: Number(limit), lt, hash, toLt: toLt === 0n ? undefined : toLt }));
        },
        tryLocateTx: locate('result'),
        tryLocateResultTx: locate('result'),
        tryLocateSourceTx: locate('source'),
        getMasterchainInfo: () => ({
            '@type': 'blocks.masterchainInfo',
            last: mcBlock(),
            state_root_hash: mcBlock().root_hash,
            init: blockIdExt(-1, 0),
        }),
        getConsensusBlock: () => ({ consensus_block: chain.seqno, timestamp: chain.now() }),
        shards: (p) => {
            const seqno = Number(parseInteger(p.seqno, 'seqno'));
            if (seqno < 0 || seqno > chain.seqno) throw new ToncenterError(404, `block ${seqno} not found`);
            return { '@type': 'blocks.shards', shards: [blockIdExt(0, seqno)] };
        },
        getBlockTransactions: (p) => {
            const workchain = Number(parseInteger(p.workchain, 'workchain'));
            const seqno = Number(parseInteger(p.seqno, 'seqno'));
            const block = chain.block(seqno);
            if (workchain !== 0 || !block) throw new ToncenterError(404, `block ${workchain}:${seqno} not found`);
            return {
                '@type': 'blocks.transactions',
                id: blockIdExt(0, seqno),
                req_count: block.txs.length,
                incomplete: false,
                transactions: block.txs.map((t) => ({ '@type': 'blocks.shortTxId', mode: 135, account: t.account, lt: t.lt, hash: t.hash })),
            };
        },
        getConfigParam: (p) => {
            const id = Number(parseInteger(p.config_id, 'config_id'));
            // Config keys are int32: anything else is not found, not a dictionary error.
            if (!Number.isSafeInteger(id) || id < -(2 ** 31) || id >= 2 ** 31) throw new ToncenterError(404, `config param ${id} not found`);
            const params = Dictionary.loadDirect(Dictionary.Keys.Int(32), Dictionary.Values.Cell(), chain.blockchain.config);
            const param = params.get(id);
            if (!param) throw new ToncenterError(404, `config param ${id} not found`);
            return { '@type': 'configInfo', config: { '@type': 'tvm.cell', bytes: param.toBoc().toString('base64') } };
        },
    };
}

function fail(reply: FastifyReply, e: unknown, extra: Record<string, unknown> = {}) {
    if (e instanceof ToncenterError) return reply.status(e.code).send({ ok: false, error: e.message, code: e.code, ...extra });
    reply.log.error({ err: e }, 'request failed');
    const message = e instanceof Error ? e.message : String(e);
    return reply.status(500).send({ ok: false, error: message, code: 500, ...extra });
}

// A number, or a decimal string (as a query or shell would send it); not z.coerce,
// which also turns `true`, `[5]` or "1e3" into seconds.
const AdvanceTimeBody = z
    .object({
        seconds: z
            .union([
                z.number(),
                z
                    .string()
                    .regex(/^[0-9]+$/, 'seconds must be a whole number')
                    .transform(Number),
            ])
            .pipe(
                z
                    .number()
                    .int()
                    .positive()
                    .max(10 * 365 * 24 * 3600),
            ),
    })
    .strict();
const FaucetBody = z
    .object({
        address: z.string().min(1),
        /** TON, as a decimal number or string ("1.5"). */
        // Bounded here too: a number like 1e300 has no decimal form toNano can read.
        amount: z.union([z.string().regex(/^[0-9]+(\.[0-9]{1,9})?$/, 'amount must be a decimal TON amount'), z.number().positive().max(1_000_000)]),
    })
    .strict();
const MAX_FAUCET = toNano('1000000');

function zodError(e: z.ZodError): ToncenterError {
    return badRequest(e.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '));
}

export function buildServer(chain: DevnetChain, config: DevnetConfig, logger: Logger) {
    // One log line per request (with the JSON-RPC method), instead of Fastify's two.
    const app = Fastify({ loggerInstance: logger, bodyLimit: 4 * 1024 * 1024, disableRequestLogging: true });
    const rpcNames = new WeakMap<object, string>();
    app.addHook('onResponse', async (req, reply) => {
        req.log.info({ http: `${req.method} ${req.url.split('?')[0]}`, rpc: rpcNames.get(req), status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
    });
    const methods = toncenterMethods(chain);
    let ready = false;

    // Malformed JSON and the like get toncenter's error shape, not Fastify's.
    app.setErrorHandler((err, _req, reply) => {
        const code = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
        return fail(reply, new ToncenterError(code, err.message));
    });
    app.setNotFoundHandler((req, reply) => fail(reply, new ToncenterError(404, `no route ${req.method} ${req.url}`)));

    const call = async (name: string, params: Params) => {
        const m = Object.prototype.hasOwnProperty.call(methods, name) ? methods[name] : undefined;
        if (!m) throw new ToncenterError(404, `method ${name} is not supported`);
        return m(params);
    };

    app.post(JSON_RPC_PATH, async (req, reply) => {
        const body = req.body as { id?: unknown; method?: unknown; params?: unknown } | undefined;
        const id = body?.id ?? null;
        const extra = { id, jsonrpc: '2.0' };
        try {
            if (!body || typeof body !== 'object' || typeof body.method !== 'string') throw badRequest('a JSON-RPC request needs a string "method"');
            const params = body.params ?? {};
            if (typeof params !== 'object' || Array.isArray(params) || params === null) throw badRequest('"params" must be an object');
            rpcNames.set(req, body.method);
            const result = await call(body.method, params as Params);
            return reply.send({ ok: true, result, ...extra });
        } catch (e) {
            return fail(reply, e, extra);
        }
    });
    app.get('/api/v2/:method', async (req, reply) => {
        try {
            const method = (req.params as { method: string }).method;
            rpcNames.set(req, method);
            const result = await call(method, (req.query ?? {}) as Params);
            return reply.send({ ok: true, result });
        } catch (e) {
            return fail(reply, e);
        }
    });
    app.post('/api/v2/:method', async (req, reply) => {
        try {
            const body = req.body ?? {};
            if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('body must be a JSON object');
            const method = (req.params as { method: string }).method;
            rpcNames.set(req, method);
            const result = await call(method, body as Params);
            return reply.send({ ok: true, result });
        } catch (e) {
            return fail(reply, e);
        }
    });

    app.get('/ready', async (_req, reply) => {
        if (!ready) return reply.status(503).send({ ok: false, error: 'starting', code: 503 });
        return reply.send({ ok: true, result: { ready: true, seqno: chain.seqno, now: chain.now(), queued: chain.queued } });
    });
    app.get('/devnet/info', async (_req, reply) =>
        reply.send({
            ok: true,
            result: {
                devnet: true,
                jsonRpc: JSON_RPC_PATH,
                mnemonic: config.mnemonic,
                wallets: chain.wallets.map((w) => ({ index: w.index, version: w.version, address: w.address.toString(), env: w.env })),
                now: chain.now(),
                timeScale: config.timeScale,
                seqno: chain.seqno,
            },
        }),
    );
    app.post('/admin/advance-time', async (req, reply) => {
        try {
            const parsed = AdvanceTimeBody.safeParse(req.body ?? {});
            if (!parsed.success) throw zodError(parsed.error);
            return reply.send({ ok: true, result: { now: chain.advanceTime(parsed.data.seconds) } });
        } catch (e) {
            return fail(reply, e);
        }
    });
    app.post('/admin/faucet', async (req, reply) => {
        try {
            const parsed = FaucetBody.safeParse(req.body ?? {});
            if (!parsed.success) throw zodError(parsed.error);
            const to = parseAddress(parsed.data.address);
            const amount = toNano(typeof parsed.data.amount === 'number' ? parsed.data.amount.toFixed(9) : parsed.data.amount);
            if (amount <= 0n || amount > MAX_FAUCET) throw badRequest('amount must be more than 0 and at most 1000000 TON');
            const tx = await chain.faucet(to, amount);
            return reply.send({
                ok: true,
                result: { address: to.toString(), amount: amount.toString(), transaction_id: tx ? txId(tx.lt, tx.hash) : null },
            });
        } catch (e) {
            return fail(reply, e);
        }
    });

    registerExplorer(app, chain);
    app.get('/', (_req, reply) => reply.redirect('/explorer/'));

    app.addHook('onReady', async () => {
        ready = true;
    });
    return app;
}

export interface RunningDevnet {
    url: string;
    /** http://host:port/api/v2/jsonRPC */
    endpoint: string;
    port: number;
    chain: DevnetChain;
    config: DevnetConfig;
    logger: Logger;
    /** Stops accepting requests, finishes queued messages, saves state. */
    close(): Promise<void>;
}

/** Creates (or loads) the chain and serves it. */
export async function startDevnet(input: DevnetConfigInput = {}, opts: { logger?: Logger } = {}): Promise<RunningDevnet> {
    const config = parseDevnetConfig(input);
    const logger = opts.logger ?? pino({ level: config.logLevel, name: 'cocoon-devnet' }, pino.destination(2));
    const chain = await DevnetChain.create({
        mnemonic: config.mnemonic,
        accounts: config.accounts,
        walletBalance: toNano(config.walletBalance.toFixed(9)),
        timeScale: config.timeScale,
        blockDelayMs: config.blockDelay,
        statePath: config.state,
        saveDebounceMs: config.saveDebounce,
        logger,
    });
    const app = buildServer(chain, config, logger);
    try {
        await app.listen({ host: config.host, port: config.port });
    } catch (e) {
        await chain.close();
        throw e;
    }
    const port = (app.server.address() as AddressInfo).port;
    const hostForUrl = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `http://${hostForUrl}:${port}`;
    await chain.save();
    let closing: Promise<void> | undefined;
    return {
        url,
        endpoint: url + JSON_RPC_PATH,
        port,
        chain,
        config,
        logger,
        close() {
            closing ??= (async () => {
                await app.close();
                await chain.close();
                logger.info('devnet stopped');
            })();
            return closing;
        },
    };
}
