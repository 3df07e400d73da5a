import { Address, Cell } from '@ton/core';
import { AttestationVerifier } from '../build/AttestationVerifier/AttestationVerifier_AttestationVerifier';
import { Escrow } from '../build/Escrow/Escrow_Escrow';
import { Registry } from '../build/Registry/Registry_Registry';
import { Staking } from '../build/Staking/Staking_Staking';
import { WorkerStake } from '../build/WorkerStake/WorkerStake_WorkerStake';
import { channelLibraryCell } from './channelLibrary';
import { defaultNetworkParams } from './params';

/**
 * Which Cocoon contract an account runs, told by its code's hash (the code
 * does not depend on the init arguments, so any arguments give it). A
 * channel's code is the library cell naming PaymentChannel's code.
 */

let kinds: Promise<Map<string, string>> | undefined;

async function build(): Promise<Map<string, string>> {
    const zero = new Address(0, Buffer.alloc(32));
    const codes: Array<[string, Cell | undefined]> = [
        ['Registry', (await Registry.fromInit(zero, defaultNetworkParams(zero))).init?.code],
        ['Staking', (await Staking.fromInit(zero)).init?.code],
        ['WorkerStake', (await WorkerStake.fromInit(zero, zero, 0n)).init?.code],
        ['Escrow', (await Escrow.fromInit(zero)).init?.code],
        ['AttestationVerifier', (await AttestationVerifier.fromInit(zero)).init?.code],
        ['PaymentChannel', await channelLibraryCell()],
    ];
    return new Map(codes.filter((c): c is [string, Cell] => c[1] !== undefined).map(([name, code]) => [code.hash().toString('hex'), name]));
}

/** The Cocoon contract whose code this is, or undefined. */
export async function contractKind(code: Cell | undefined | null): Promise<string | undefined> {
    if (!code) return undefined;
    kinds ??= build();
    return (await kinds).get(code.hash().toString('hex'));
}
