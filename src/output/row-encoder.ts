/**
 * The interface each output format implements: text before the rows, text per row, text
 * after the rows. The result writer owns hashing, limits and backpressure; an encoder only
 * turns values into text.
 */
import type { ResultColumn } from '../warehouse/warehouse.js';

export interface RowEncoder {
  start(): string;
  /** Text for one row; '' when the format must see every row before writing (pretty). */
  row(values: readonly unknown[]): string;
  finish(): string;
}

export type RowEncoderFactory = (columns: readonly ResultColumn[]) => RowEncoder;
