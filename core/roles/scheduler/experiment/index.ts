export * from './experiment-arms.js';
export * from './experiment-outcome.js';
export * from './experiment-outcome-store.js';
export * from './experiment-recorder.js';
export * from './experiment-report.js';
export * from './experiment-report-format.js';
