/** One arm of an A/B experiment: a share of downloads ranked by one evaluator. */
export interface ExperimentVariant {
  name: string;
  evaluator: string;
  /** Percent of buckets; the weights of an experiment sum to 100. */
  weight: number;
}

export interface ExperimentConfig {
  id: string;
  /** What is hashed to choose an arm; stable, so a bucket never changes mid-download. */
  bucketBy: 'task' | 'host';
  variants: ExperimentVariant[];
}

/** Which evaluator ranks parents, or which experiment splits downloads between evaluators. */
export interface SchedulingPolicy {
  evaluator: string;
  experiment?: ExperimentConfig;
}
