export { classifyAddress, embeddedV4, AddressList, clientAddress } from './address.js';
export type { AddressVerdict } from './address.js';
export { OutboundPolicy, VigilUrlPolicyError, VigilOutboundError, policyRequest, describeUrl, responseOf } from './outbound.js';
export type { OutboundPolicyOptions, CheckedTarget, OutboundRequest, OutboundResponse, Resolver, ResolvedAddress } from './outbound.js';
