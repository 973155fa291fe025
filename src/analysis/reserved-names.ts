/**
 * Names hoopq gives its own objects inside the SQL it runs — the hash mask's key parameters,
 * the element variables of nested masks, pipe-syntax placeholders — start with `__hoopq`. No
 * query may use such a name (compared case-insensitively, quoted or not, as a parameter, a
 * variable, a column or a table): otherwise SQL could name the key, or pose as hoopq's own
 * text. Every dialect's analysis refuses them.
 */
import { AnalysisError } from '../errors.js';

export const RESERVED_NAME_PREFIX = '__hoopq';

export function isReservedName(name: string): boolean {
  return name.replace(/^[@$`"]+/, '').toLowerCase().startsWith(RESERVED_NAME_PREFIX);
}

export function reservedNameError(written: string): AnalysisError {
  return new AnalysisError('analysis.reserved_name', `refused: the name ${written} is reserved for hoopq's own use`, {
    rule: 'analysis.names',
    hint: `rename anything that starts with ${RESERVED_NAME_PREFIX}`,
  });
}
