import { token } from '../../tokens.js';
import type { SchedulingPolicy } from './scheduling-policy.js';

export const SchedulingPolicyToken = token<SchedulingPolicy>('scheduler.policy');
