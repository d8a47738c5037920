import { XMLParser } from 'fast-xml-parser';
import { D7yError } from '../../core/index.js';

export interface SnapshotFile {
  classifier?: string;
  extension: string;
  /** The timestamped file version, e.g. `1.0-20240101.120000-3`. */
  value: string;
}

/** What a `maven-metadata.xml` says (artifact level or SNAPSHOT-version level). */
export interface MavenMetadata {
  versions: string[];
  latest?: string;
  release?: string;
  /** Timestamp and build number of the latest snapshot build. */
  snapshot?: { timestamp: string; buildNumber: string };
  snapshotVersions: SnapshotFile[];
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  processEntities: false,
  isArray: (name) => name === 'version' || name === 'snapshotVersion',
});

/** Parses `maven-metadata.xml`; D7Y_SOURCE_ERROR naming `what` when it is not metadata. */
export function parseMavenMetadata(xml: string, what: string): MavenMetadata {
  let doc: { metadata?: { versioning?: Record<string, unknown> } };
  try {
    doc = parser.parse(xml) as typeof doc;
  } catch (err) {
    throw new D7yError('D7Y_SOURCE_ERROR', `${what} is not valid XML: ${(err as Error).message}`, { cause: err, fix: 'check the repository' });
  }
  if (!doc.metadata) throw new D7yError('D7Y_SOURCE_ERROR', `${what} has no <metadata> element`, { fix: 'check the repository' });
  const v = (doc.metadata.versioning ?? {}) as {
    latest?: string; release?: string;
    versions?: { version?: string[] };
    snapshot?: { timestamp?: string; buildNumber?: string };
    snapshotVersions?: { snapshotVersion?: { classifier?: string; extension?: string; value?: string }[] };
  };
  const snapshot = v.snapshot?.timestamp && v.snapshot.buildNumber ? { timestamp: String(v.snapshot.timestamp), buildNumber: String(v.snapshot.buildNumber) } : undefined;
  return {
    versions: (v.versions?.version ?? []).map(String),
    latest: v.latest ? String(v.latest) : undefined,
    release: v.release ? String(v.release) : undefined,
    snapshot,
    snapshotVersions: (v.snapshotVersions?.snapshotVersion ?? [])
      .filter((s) => s.extension && s.value)
      .map((s) => ({ classifier: s.classifier ? String(s.classifier) : undefined, extension: String(s.extension), value: String(s.value) })),
  };
}
