import { Constants } from './constants';
import { Address, ContractProvider, Dictionary, Sender, toNano } from '@ton/core';
import {
    AttestationPolicy,
    LinkedContracts,
    NetworkParams,
    Proposal,
    Registry,
    loadAttestationPolicy,
    loadSlashProposal,
    SlashProposal,
    loadImageProposal,
    loadLinkedContracts,
    loadModelProposal,
    loadNetworkParams,
} from '../build/Registry/Registry_Registry';

export * from '../build/Registry/Registry_Registry';

/**
 * Proposal kinds. Literal values, because decoded proposals are a union
 * discriminated by kind; checked against PROPOSAL_* of the build below, so
 * a renumbered kind fails at load instead of misreading proposals.
 */
export enum ProposalKind {
    AddImage = 1,
    AddModel = 2,
    SetParams = 3,
    SetLinks = 4,
    Unpause = 5,
    SetAttestationPolicy = 6,
    GovernanceSlash = 7,
}

const PROPOSAL_CONSTANTS: Record<ProposalKind, bigint> = {
    [ProposalKind.AddImage]: Constants.PROPOSAL_ADD_IMAGE,
    [ProposalKind.AddModel]: Constants.PROPOSAL_ADD_MODEL,
    [ProposalKind.SetParams]: Constants.PROPOSAL_SET_PARAMS,
    [ProposalKind.SetLinks]: Constants.PROPOSAL_SET_LINKS,
    [ProposalKind.Unpause]: Constants.PROPOSAL_UNPAUSE,
    [ProposalKind.SetAttestationPolicy]: Constants.PROPOSAL_SET_ATTESTATION_POLICY,
    [ProposalKind.GovernanceSlash]: Constants.PROPOSAL_GOVERNANCE_SLASH,
};
for (const [kind, built] of Object.entries(PROPOSAL_CONSTANTS)) {
    if (BigInt(kind) !== built) throw new Error(`ProposalKind ${ProposalKind[Number(kind)]} is ${kind} here but ${built} in the contracts' build`);
}

export type DecodedProposal =
    | { kind: ProposalKind.AddImage; executeAfter: number; imageHash: bigint }
    | { kind: ProposalKind.AddModel; executeAfter: number; modelId: bigint; name: string }
    | { kind: ProposalKind.SetParams; executeAfter: number; params: NetworkParams }
    | { kind: ProposalKind.SetLinks; executeAfter: number; links: LinkedContracts }
    | { kind: ProposalKind.Unpause; executeAfter: number }
    | { kind: ProposalKind.SetAttestationPolicy; executeAfter: number; policy: AttestationPolicy }
    | { kind: ProposalKind.GovernanceSlash; executeAfter: number; slash: SlashProposal };

/** Decodes a queued proposal's payload according to its kind. */
export function decodeProposal(p: Proposal): DecodedProposal {
    const executeAfter = Number(p.executeAfter);
    const slice = p.payload.beginParse();
    switch (Number(p.kind)) {
        case ProposalKind.AddImage:
            return { kind: ProposalKind.AddImage, executeAfter, imageHash: loadImageProposal(slice).imageHash };
        case ProposalKind.AddModel: {
            const m = loadModelProposal(slice);
            return { kind: ProposalKind.AddModel, executeAfter, modelId: m.modelId, name: m.name };
        }
        case ProposalKind.SetParams:
            return { kind: ProposalKind.SetParams, executeAfter, params: loadNetworkParams(slice) };
        case ProposalKind.SetLinks:
            return { kind: ProposalKind.SetLinks, executeAfter, links: loadLinkedContracts(slice) };
        case ProposalKind.Unpause:
            return { kind: ProposalKind.Unpause, executeAfter };
        case ProposalKind.SetAttestationPolicy:
            return { kind: ProposalKind.SetAttestationPolicy, executeAfter, policy: loadAttestationPolicy(slice) };
        case ProposalKind.GovernanceSlash:
            return { kind: ProposalKind.GovernanceSlash, executeAfter, slash: loadSlashProposal(slice) };
        default:
            throw new Error(`unknown proposal kind ${p.kind}`);
    }
}

/**
 * The generated Registry wrapper with typed helpers for each governance
 * action. Values are generous: every receiver returns what it does not spend.
 */
export class ExtendedRegistry extends Registry {
    /** Value for an owner action that pushes no config. */
    static readonly ACTION_VALUE = toNano('0.05');
    /**
     * Value for an action that pushes config to up to three linked contracts
     * with short allow-lists. A push costs more as the allow-lists grow: use
     * pushingValue() (the unspent part returns).
     */
    static readonly PUSHING_ACTION_VALUE = toNano('0.2');
    /** Value that deploys the Registry and seeds its storage reserve. */
    static readonly DEPLOY_VALUE = toNano('0.1');

    static async fromInit(owner: Address, params: NetworkParams): Promise<ExtendedRegistry> {
        const base = await Registry.fromInit(owner, params);
        return new ExtendedRegistry(base.address, base.init);
    }

    static fromAddress(address: Address): ExtendedRegistry {
        return new ExtendedRegistry(address);
    }

    async sendDeploy(provider: ContractProvider, via: Sender, value = ExtendedRegistry.DEPLOY_VALUE) {
        return this.send(provider, via, { value }, null);
    }

    async sendProposeImage(provider: ContractProvider, via: Sender, imageHash: bigint, queryId = 0n) {
        return this.send(provider, via, { value: ExtendedRegistry.ACTION_VALUE }, { $$type: 'ProposeImage', queryId, imageHash });
    }

    async sendProposeModel(provider: ContractProvider, via: Sender, modelId: bigint, name: string, queryId = 0n) {
        return this.send(provider, via, { value: ExtendedRegistry.ACTION_VALUE }, { $$type: 'ProposeModel', queryId, modelId, name });
    }

    async sendProposeParams(provider: ContractProvider, via: Sender, params: NetworkParams, queryId = 0n) {
        return this.send(provider, via, { value: ExtendedRegistry.ACTION_VALUE }, { $$type: 'ProposeParams', queryId, params });
    }

    async sendProposeLinks(provider: ContractProvider, via: Sender, links: Omit<LinkedContracts, '$$type'>, queryId = 0n) {
        return this.send(
            provider,
            via,
            { value: ExtendedRegistry.ACTION_VALUE },
            {
                $$type: 'ProposeLinks',
                queryId,
                links: { $$type: 'LinkedContracts', ...links },
            },
        );
    }

    async sendProposeUnpause(provider: ContractProvider, via: Sender, queryId = 0n) {
        return this.send(provider, via, { value: ExtendedRegistry.ACTION_VALUE }, { $$type: 'ProposeUnpause', queryId });
    }

    /** Value for executing a governance slash: the order carries 0.3 TON to Staking. */
    static readonly SLASH_EXECUTE_VALUE = toNano('0.5');

    async sendProposeSlash(provider: ContractProvider, via: Sender, slash: Omit<SlashProposal, '$$type'>, queryId = 0n) {
        return this.send(
            provider,
            via,
            { value: ExtendedRegistry.ACTION_VALUE },
            {
                $$type: 'ProposeSlash',
                queryId,
                slash: { $$type: 'SlashProposal', ...slash },
            },
        );
    }

    async sendProposeAttestationPolicy(provider: ContractProvider, via: Sender, policy: Omit<AttestationPolicy, '$$type'>, queryId = 0n) {
        return this.send(
            provider,
            via,
            { value: ExtendedRegistry.ACTION_VALUE },
            {
                $$type: 'ProposeAttestationPolicy',
                queryId,
                policy: { $$type: 'AttestationPolicy', ...policy },
            },
        );
    }

    async sendExecute(provider: ContractProvider, via: Sender, proposalId: bigint, queryId = 0n, value = ExtendedRegistry.PUSHING_ACTION_VALUE) {
        return this.send(provider, via, { value }, { $$type: 'ExecuteProposal', queryId, proposalId });
    }

    async sendCancel(provider: ContractProvider, via: Sender, proposalId: bigint, queryId = 0n) {
        return this.send(provider, via, { value: ExtendedRegistry.ACTION_VALUE }, { $$type: 'CancelProposal', queryId, proposalId });
    }

    async sendRevokeImage(provider: ContractProvider, via: Sender, imageHash: bigint, queryId = 0n, value = ExtendedRegistry.PUSHING_ACTION_VALUE) {
        return this.send(provider, via, { value }, { $$type: 'RevokeImage', queryId, imageHash });
    }

    async sendRevokeModel(provider: ContractProvider, via: Sender, modelId: bigint, queryId = 0n, value = ExtendedRegistry.PUSHING_ACTION_VALUE) {
        return this.send(provider, via, { value }, { $$type: 'RevokeModel', queryId, modelId });
    }

    async sendRevokeAttestationKey(provider: ContractProvider, via: Sender, keyId: bigint, queryId = 0n, value = ExtendedRegistry.PUSHING_ACTION_VALUE) {
        return this.send(provider, via, { value }, { $$type: 'RevokeAttestationKey', queryId, keyId });
    }

    async sendRevokePlatform(provider: ContractProvider, via: Sender, fmspc: bigint, queryId = 0n, value = ExtendedRegistry.PUSHING_ACTION_VALUE) {
        return this.send(provider, via, { value }, { $$type: 'RevokePlatform', queryId, fmspc });
    }

    async sendPause(provider: ContractProvider, via: Sender, queryId = 0n, value = ExtendedRegistry.PUSHING_ACTION_VALUE) {
        return this.send(provider, via, { value }, { $$type: 'Pause', queryId });
    }

    async sendPushConfig(provider: ContractProvider, via: Sender, queryId = 0n, value = ExtendedRegistry.PUSHING_ACTION_VALUE) {
        return this.send(provider, via, { value }, { $$type: 'PushConfig', queryId });
    }

    async sendTransferOwnership(provider: ContractProvider, via: Sender, newOwner: Address, queryId = 0n) {
        return this.send(provider, via, { value: ExtendedRegistry.ACTION_VALUE }, { $$type: 'TransferOwnership', queryId, newOwner });
    }

    async sendAcceptOwnership(provider: ContractProvider, via: Sender, queryId = 0n) {
        return this.send(provider, via, { value: ExtendedRegistry.ACTION_VALUE }, { $$type: 'AcceptOwnership', queryId });
    }

    /**
     * Value for an action that pushes the config: what the Registry requires
     * now (getPushValue, which follows the allow-lists' real size) plus a
     * margin for what the action itself adds (an image, a model, links), and
     * never less than PUSHING_ACTION_VALUE.
     */
    async getPushingValue(provider: ContractProvider): Promise<bigint> {
        const needed = ((await this.getPushValue(provider)) * 5n) / 4n;
        return needed > ExtendedRegistry.PUSHING_ACTION_VALUE ? needed : ExtendedRegistry.PUSHING_ACTION_VALUE;
    }

    /** Every queued proposal, decoded, by id. */
    async getDecodedProposals(provider: ContractProvider): Promise<Map<bigint, DecodedProposal>> {
        const dict: Dictionary<number, Proposal> = await this.getProposals(provider);
        const out = new Map<bigint, DecodedProposal>();
        for (const [id, p] of dict) out.set(BigInt(id), decodeProposal(p));
        return out;
    }
}
