import { readFileSync, statSync } from 'node:fs';
import { Address, Cell, Sender, SenderArguments, SendMode, external, internal } from '@ton/core';
import { KeyPair, mnemonicToPrivateKey, mnemonicValidate } from '@ton/crypto';
import { TonClient, WalletContractV4, WalletContractV5R1 } from '@ton/ton';
import { PollTimeout, pollUntil } from '../helpers/poll';
import { normalizedExtMessageHash } from './toncenter';

/**
 * The operator wallet (stakes, attests, claims). Its sends are serialised:
 * each waits until the wallet's seqno moves on before the next is signed,
 * so concurrent claims never reuse a seqno; and a send counts as done only
 * when its own message is among the wallet's transactions, so another
 * process using the same wallet cannot make a message look sent.
 */
export type WalletVersion = 'v4' | 'v5r1';

export async function readMnemonic(path: string): Promise<string[]> {
    const st = statSync(path);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) throw new Error(`mnemonic file ${path} is accessible by group or others; run chmod 600`);
    const words = readFileSync(path, 'utf8').trim().split(/\s+/);
    if (!(await mnemonicValidate(words))) throw new Error(`${path} does not hold a valid TON mnemonic`);
    return words;
}

interface Transferable {
    createTransfer(args: { seqno: number; secretKey: Buffer; messages: ReturnType<typeof internal>[]; sendMode: SendMode }): Cell;
}

export class OperatorWallet {
    private queue: Promise<unknown> = Promise.resolve();

    private constructor(
        private readonly client: TonClient,
        private readonly key: KeyPair,
        private readonly wallet: WalletContractV4 | WalletContractV5R1,
        private readonly options: { confirmTimeoutMs: number },
    ) {}

    static async open(client: TonClient, words: string[], version: WalletVersion = 'v4', options: { confirmTimeoutMs?: number } = {}): Promise<OperatorWallet> {
        const key = await mnemonicToPrivateKey(words);
        const wallet = version === 'v4' ? WalletContractV4.create({ workchain: 0, publicKey: key.publicKey }) : WalletContractV5R1.create({ publicKey: key.publicKey });
        return new OperatorWallet(client, key, wallet, { confirmTimeoutMs: options.confirmTimeoutMs ?? 60_000 });
    }

    get address(): Address {
        return this.wallet.address;
    }

    async balance(): Promise<bigint> {
        return this.client.getBalance(this.address);
    }

    /** Sends one internal message and resolves once the wallet accepted it (seqno moved). */
    send(args: SenderArguments): Promise<void> {
        const run = this.queue.then(() => this.sendNow(args));
        this.queue = run.catch(() => undefined);
        return run;
    }

    private async sendNow(args: SenderArguments): Promise<void> {
        const w = this.client.open(this.wallet);
        const msg = internal({ to: args.to, value: args.value, body: args.body ?? undefined, bounce: args.bounce ?? true, init: args.init ?? undefined });
        const deadline = Date.now() + this.options.confirmTimeoutMs;
        for (;;) {
            const seqno = await w.getSeqno();
            // Both wallet versions take the same transfer arguments.
            const transfer = (this.wallet as unknown as Transferable).createTransfer({
                seqno,
                secretKey: this.key.secretKey,
                messages: [msg],
                sendMode: SendMode.PAY_GAS_SEPARATELY | SendMode.IGNORE_ERRORS,
            });
            await w.send(transfer);
            const sent = normalizedExtMessageHash(external({ to: this.address, body: transfer }));
            await pollUntil(
                `the wallet to take seqno ${seqno}`,
                () => w.getSeqno(),
                (now) => now > seqno,
                {
                    timeoutMs: Math.max(1_000, deadline - Date.now()),
                },
            ).catch((e) => {
                throw e instanceof PollTimeout ? new Error(`the wallet did not accept the message (seqno still ${seqno})`) : e;
            });
            // The seqno moved, but maybe for another process signing with the same key (a worker daemon and the
            // operator's CLI share the wallet): only our own message landing counts; otherwise sign again.
            // An API's transaction list may trail its get-methods by a block: look for a while before signing again.
            const ours = await pollUntil(
                'our message among the wallet transactions',
                () => this.landed(sent),
                (found) => found,
                {
                    timeoutMs: 10_000,
                    intervalMs: 1_000,
                },
            ).catch(() => false);
            if (ours) return;
            if (Date.now() > deadline) throw new Error(`the wallet took seqno ${seqno} for another message, and ours did not land in time`);
        }
    }

    /** Whether the wallet's recent transactions include the external message with this normalized hash. */
    private async landed(hash: Buffer): Promise<boolean> {
        const recent = await this.client.getTransactions(this.address, { limit: 100 });
        return recent.some((tx) => tx.inMessage?.info.type === 'external-in' && normalizedExtMessageHash(tx.inMessage).equals(hash));
    }

    sender(): Sender {
        return { address: this.address, send: (args) => this.send(args) };
    }
}
