import { describe, expect, it } from 'vitest';
import { sanitizeBigQueryLabels } from './sanitize-bigquery-labels.js';

const VALID_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const VALID_VALUE = /^[a-z0-9_-]{0,63}$/;

describe('sanitizeBigQueryLabels', () => {
  it.each([
    [{ hoopq_run: 'nightly-42' }, { hoopq_run: 'nightly-42' }],
    [{ hoopq_run: 'GitHub/Acme ML#42' }, { hoopq_run: 'github_acme_ml_42' }],
    [{ Run: 'Ünïcode ✓' }, { run: '_n_code__' }],
    [{ '1st': 'x' }, { k1st: 'x' }],
    [{ _k: '' }, { k_k: '' }],
    [{ hoopq_record: '5B8F1C0E-1D2A-4C8E-9B7A-0F6E2D3C4B5A' }, { hoopq_record: '5b8f1c0e-1d2a-4c8e-9b7a-0f6e2d3c4b5a' }],
  ])('%j -> %j', (input, expected) => {
    expect(sanitizeBigQueryLabels(input)).toEqual(expected);
  });

  it('cuts long values to 63 characters and keeps two long values apart', () => {
    const a = sanitizeBigQueryLabels({ hoopq_run: `${'a'.repeat(80)}-1` }).hoopq_run!;
    const b = sanitizeBigQueryLabels({ hoopq_run: `${'a'.repeat(80)}-2` }).hoopq_run!;
    expect(a).toHaveLength(63);
    expect(b).toHaveLength(63);
    expect(a).not.toBe(b);
  });

  it('always yields labels BigQuery accepts, whatever the input', () => {
    const nasty = ['', ' ', 'A'.repeat(200), '../../etc', '\u0000\n\t', 'émoji 🚀', '9', '-', 'run:1;DROP', 'Z'];
    for (const k of nasty) {
      for (const v of nasty) {
        const out = sanitizeBigQueryLabels({ [k]: v });
        for (const [key, value] of Object.entries(out)) {
          expect(key).toMatch(VALID_KEY);
          expect(value).toMatch(VALID_VALUE);
        }
      }
    }
  });

  it('keeps at most 64 labels', () => {
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`l${i}`, 'v']));
    expect(Object.keys(sanitizeBigQueryLabels(many))).toHaveLength(64);
  });
});
