import { Address, Cell, Contract, ContractProvider, Dictionary, Sender, StateInit, beginCell, contractAddress, toNano } from '@ton/core';
import { ChannelLibrary } from '../build/ChannelLibrary/ChannelLibrary_ChannelLibrary';
import { PaymentChannel } from '../build/PaymentChannel/PaymentChannel_PaymentChannel';

/**
 * PaymentChannel's code travels and is stored as a library cell: a 264-bit
 * exotic cell naming the code by hash (the contract's `channelInit`). The
 * code itself is published once as a public library on the masterchain;
 * every channel's deploy message then forwards one small cell instead of the
 * whole contract, and each channel pays rent for that one cell.
 */

let cached: Cell | undefined;

/** PaymentChannel's compiled code, as the build made it. */
export async function channelCode(): Promise<Cell> {
    if (!cached) {
        // The code does not depend on the init arguments.
        const zero = new Address(0, Buffer.alloc(32));
        const init = (await PaymentChannel.fromInit(zero, zero, zero, 0n)).init;
        if (!init) throw new Error('the PaymentChannel wrapper has no StateInit');
        cached = init.code;
    }
    return cached;
}

/** The library cell (exotic type 2) that stands for `code`. */
export function libraryCell(code: Cell): Cell {
    return beginCell().storeUint(2, 8).storeBuffer(code.hash()).endCell({ exotic: true });
}

/** The channel code's library cell, as every channel's StateInit carries it. */
export async function channelLibraryCell(): Promise<Cell> {
    return libraryCell(await channelCode());
}

/**
 * The global library collection holding the channel code, in the format a
 * local chain takes (a dictionary from code hash to code): what publishing
 * the library on the masterchain gives a real network.
 */
export async function channelLibraries(): Promise<Cell> {
    const code = await channelCode();
    const dict = Dictionary.empty(Dictionary.Keys.Buffer(32), Dictionary.Values.Cell());
    dict.set(code.hash(), code);
    return beginCell().storeDictDirect(dict).endCell();
}

/**
 * The masterchain account that publishes the channel code as a public
 * library (contracts/channel-library.tact). Its address, in workchain -1,
 * follows from the code it publishes.
 */
export class ChannelLibraryPublisher implements Contract {
    /**
     * What deployNetwork leaves on it: masterchain storage of the library
     * (~29 cells, ~22,000 bits) costs about 17.5 TON a year at today's
     * prices, so this pays for a few years; anyone may top it up.
     */
    static readonly FUNDING = toNano('50');

    constructor(
        readonly address: Address,
        readonly init: StateInit,
    ) {}

    static async create(): Promise<ChannelLibraryPublisher> {
        const init = (await ChannelLibrary.fromInit()).init!;
        return new ChannelLibraryPublisher(contractAddress(-1, init), init);
    }

    /** Deploys it (or tops it up) and publishes the library; `value` stays on the account for rent. */
    async sendPublish(provider: ContractProvider, via: Sender, value = ChannelLibraryPublisher.FUNDING) {
        await provider.internal(via, { value, body: Cell.EMPTY });
    }
}
