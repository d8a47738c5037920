import './metadata-polyfill.js';

/** DI decorators and types, re-exported so plugins and roles never import tsyringe directly. */
export { injectable, inject, singleton, container as rootContainer } from 'tsyringe';
export type { DependencyContainer } from 'tsyringe';
