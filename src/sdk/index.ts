/**
 * The runwarden SDK for agent developers: publish span events (createSpanEmitter) and obey
 * control commands (createGuard, whose check() runs before every step). Every export is listed
 * by name; the SDK throws into the host application only the errors below.
 */
export { createSpanEmitter, argsHash } from './emitter.ts';
export type { SpanEmitter, SpanEmitterOptions, RunHandle, StartRunOptions, ToolCallOptions, EmitInput } from './emitter.ts';

export { createGuard } from './guard.ts';
export type { Guard, GuardOptions } from './guard.ts';
export { createGuardCore } from './guard-core.ts';
export type { GuardCore, GuardCoreOptions, GuardEvent, GuardLogger, GuardStats, FailMode, MessageSource } from './guard-core.ts';
export { createGuardState } from './guard-state.ts';
export type { GuardState, GuardStateOptions, GuardStateSizes, StepDecision, Liveness } from './guard-state.ts';
export { handleControlMessage, REJECT_REASONS, MAX_CONTROL_MESSAGE_BYTES } from './handle-control-message.ts';
export type { HandleResult, RejectReason } from './handle-control-message.ts';
export { scopeMatches, cohortId, parseCohortId } from './scope-match.ts';
export type { StepContext } from './scope-match.ts';

export { RunwardenError, RunwardenMisuseError, RunAbortedError, WardenUnavailableError } from './errors.ts';
export type { AbortDetails } from './errors.ts';

export type { ControlCommand, UnsignedControlCommand, ControlAction, Throttle } from '../contracts/control.ts';
export type { Scope, ScopeKind } from '../contracts/common.ts';
export type { KeyRing } from '../control/sign.ts';
