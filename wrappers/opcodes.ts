import { PaymentChannel } from '../build/PaymentChannel/PaymentChannel_PaymentChannel';

/**
 * The opcode of every message (`Opcode.Stake`), as the Tact build assigns
 * them from messages.tact: PaymentChannel's build compiles every message
 * of the protocol, so its table is the whole list.
 */
export const Opcode = PaymentChannel.opcodes;
export type MessageName = keyof typeof Opcode;
