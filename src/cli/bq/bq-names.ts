/**
 * bq's resource names (`PROJECT:DATASET.TABLE`, `DATASET.TABLE`, `TABLE` with --dataset_id,
 * `PROJECT:DATASET`, and hoopq's `PROJECT.DATASET.TABLE`), read as bq reads them: the part
 * before the last `:` is the project; a bare word is a table when --dataset_id is given and a
 * dataset otherwise. Defaults from --project_id and --dataset_id fill what is missing.
 */
import { UsageError } from '../../errors.js';

export interface BqReference {
  project?: string;
  dataset?: string;
  table?: string;
}

export function parseBqReference(text: string, defaults: { projectId?: string; datasetId?: string }, forceDataset = false): BqReference {
  const id = text.trim();
  if (id === '') throw new UsageError('usage.bq_name', 'bq: the name is empty');
  const colon = id.lastIndexOf(':');
  const project = colon === -1 ? undefined : id.slice(0, colon);
  const rest = colon === -1 ? id : id.slice(colon + 1);
  const dots = rest.split('.');
  let ref: BqReference;
  if (forceDataset) ref = dots.length === 2 && project === undefined ? { project: dots[0], dataset: dots[1] } : { project, dataset: rest };
  else if (dots.length === 3 && project === undefined) ref = { project: dots[0], dataset: dots[1], table: dots[2] };
  else if (dots.length === 2) ref = { project, dataset: dots[0], table: dots[1] };
  else if (dots.length === 1 && project !== undefined) ref = { project, dataset: rest };
  else if (dots.length === 1 && defaults.datasetId !== undefined) ref = { dataset: defaults.datasetId, table: rest };
  else if (dots.length === 1) ref = { dataset: rest };
  else throw new UsageError('usage.bq_name', `bq: cannot read "${text}" as a dataset or table`, { hint: 'write PROJECT:DATASET.TABLE, DATASET.TABLE or PROJECT:DATASET' });
  for (const part of [ref.project, ref.dataset, ref.table]) {
    if (part !== undefined && part === '') throw new UsageError('usage.bq_name', `bq: cannot read "${text}" as a dataset or table`, { hint: 'write PROJECT:DATASET.TABLE, DATASET.TABLE or PROJECT:DATASET' });
  }
  return { ...ref, project: ref.project ?? defaults.projectId };
}

/** `project.dataset.table` / `dataset.table` for hoopq's catalog and SQL; only plain names, so no dialect's quoting is needed. */
export function dottedName(ref: BqReference): string {
  return [ref.project, ref.dataset, ref.table].filter((p): p is string => p !== undefined).join('.');
}

/** A table named the bq way, as it may be written unquoted in a FROM clause of either dialect. */
export function bqTableName(text: string, defaults: { projectId?: string; datasetId?: string }): string {
  const ref = parseBqReference(text, defaults);
  if (ref.table === undefined) throw new UsageError('usage.bq_name', `bq: "${text}" names a dataset, not a table`, { hint: 'write DATASET.TABLE or PROJECT:DATASET.TABLE' });
  const plain = /^[A-Za-z_][A-Za-z0-9_]*$/;
  if (!plain.test(ref.dataset!) || !plain.test(ref.table) || (ref.project !== undefined && !/^[A-Za-z][A-Za-z0-9_-]*$/.test(ref.project))) {
    throw new UsageError('usage.bq_name', `bq head: "${text}" is not a plain table name`, { hint: 'use hoopq bq query with the name quoted instead' });
  }
  return dottedName(ref);
}
