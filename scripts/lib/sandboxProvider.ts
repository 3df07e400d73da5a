import { NetworkProvider, SenderWithSendResult, UIProvider } from '@ton/blueprint';
import { parseFullConfig } from '@ton/ton';
import { Address, Cell, Contract, ContractProvider, ContractState, OpenedContract, SenderArguments, openContract } from '@ton/core';
import { Blockchain, SandboxContract, SendMessageResult, TreasuryContract } from '@ton/sandbox';

/**
 * A UI whose answers are given in advance, for running Blueprint scripts
 * without a terminal (tests, the embedded default). Questions without a
 * prepared answer fail loudly instead of hanging.
 */
export class ScriptedUI implements UIProvider {
    readonly written: string[] = [];

    constructor(
        private readonly answers: string[] = [],
        /** Also print each line: true to the console, or to this function. */
        private readonly echo: boolean | ((line: string) => void) = false,
    ) {}

    write(message: string): void {
        this.written.push(message);
        this.show(message);
    }
    async prompt(message: string): Promise<boolean> {
        const answer = this.next(message);
        return /^(y|yes|true)$/i.test(answer);
    }
    async inputAddress(message: string, fallback?: Address): Promise<Address> {
        if (this.answers.length === 0 && fallback) return fallback;
        return Address.parse(this.next(message));
    }
    async input(message: string): Promise<string> {
        return this.next(message);
    }
    async choose<T>(message: string, choices: T[], display: (v: T) => string): Promise<T> {
        const answer = this.next(message);
        const found = choices.find((c) => display(c) === answer);
        if (found === undefined) throw new Error(`"${answer}" is not one of the choices for: ${message}`);
        return found;
    }
    setActionPrompt(message: string): void {
        this.written.push(message);
        this.show(message);
    }
    clearActionPrompt(): void {}

    private show(message: string): void {
        if (typeof this.echo === 'function') this.echo(message);
        else if (this.echo) console.log(message);
    }

    private next(question: string): string {
        const answer = this.answers.shift();
        if (answer === undefined) throw new Error(`script asked "${question}" and no answer was prepared`);
        return answer;
    }
}

/**
 * Blueprint's NetworkProvider over an in-process @ton/sandbox chain, so that
 * the real `scripts/*.ts` run unchanged in jest and in the embedded default.
 * Sends are executed at once, with their whole message chain.
 */
export class SandboxNetworkProvider implements NetworkProvider {
    /** Every message chain the scripts sent, in order. */
    readonly results: SendMessageResult[] = [];
    private readonly uiProvider: UIProvider;

    constructor(
        readonly blockchain: Blockchain,
        readonly wallet: SandboxContract<TreasuryContract>,
        ui: UIProvider = new ScriptedUI(),
    ) {
        this.uiProvider = ui;
    }

    network() {
        return 'custom' as const;
    }

    explorer() {
        return 'tonviewer' as const;
    }

    sender(): SenderWithSendResult {
        const inner = this.wallet.getSender();
        const results = this.results;
        const sender = {
            address: inner.address,
            lastSendResult: undefined as unknown,
            async send(args: SenderArguments) {
                const result = await (this.wallet as SandboxContract<TreasuryContract>).send(args);
                results.push(result);
                sender.lastSendResult = result;
            },
            wallet: this.wallet,
        };
        return sender;
    }

    /** The last message chain a script sent. */
    lastResult(): SendMessageResult {
        const last = this.results[this.results.length - 1];
        if (!last) throw new Error('no message was sent');
        return last;
    }

    api(): never {
        throw new Error('the sandbox provider has no TON client API; scripts use provider.open() and getters');
    }

    provider(address: Address, init?: { code?: Cell; data?: Cell }): ContractProvider {
        const stateInit = init?.code && init?.data ? { code: init.code, data: init.data } : undefined;
        return this.blockchain.provider(address, stateInit);
    }

    async isContractDeployed(address: Address): Promise<boolean> {
        const contract = await this.blockchain.getContract(address);
        return contract.accountState?.type === 'active';
    }

    async waitForDeploy(address: Address): Promise<void> {
        if (!(await this.isContractDeployed(address))) {
            throw new Error(`contract at ${address.toString()} was not deployed`);
        }
        this.uiProvider.write(`Contract deployed at address ${address.toString()}`);
    }

    async waitForLastTransaction(): Promise<void> {
        // Sandbox sends complete synchronously.
    }

    async getContractState(address: Address): Promise<ContractState> {
        return this.blockchain.provider(address).getState();
    }

    async getConfig(): Promise<ReturnType<typeof parseFullConfig>> {
        throw new Error('blockchain config is not exposed by the sandbox provider');
    }

    async deploy(contract: Contract, value: bigint, body?: Cell): Promise<void> {
        if (await this.isContractDeployed(contract.address)) {
            throw new Error(`contract at ${contract.address.toString()} is already deployed`);
        }
        await this.sender().send({ to: contract.address, value, init: contract.init ?? undefined, body });
        await this.waitForDeploy(contract.address);
    }

    open<T extends Contract>(contract: T): OpenedContract<T> {
        return openContract(contract, (params) => this.provider(params.address, params.init ? { code: params.init.code ?? undefined, data: params.init.data ?? undefined } : undefined));
    }

    ui(): UIProvider {
        return this.uiProvider;
    }
}
