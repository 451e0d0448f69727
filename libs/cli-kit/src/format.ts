// `--format` handling shared by every listing command (ps, images, volume ls,
// network ls, stats, inspect -f): "table" / "table TEMPLATE" / "json" /
// a Go template, with Docker's header names.
import { InvalidArgumentError } from '@berth/errors';
import { renderTable, type TableOptions } from './table';
import { Template, unescapeFormat } from './template';

export interface FormatOptions extends TableOptions {
  /** Header text per field name ("ID" -> "CONTAINER ID"); others are upper-cased. */
  headers?: Record<string, string>;
  /** The command's default table template (without "table "). */
  defaultTable: string;
}

/**
 * Renders rows per `format`:
 *   ""/"table"        the default table
 *   "table TEMPLATE"  header + rows of TEMPLATE, aligned
 *   "json"            one JSON object per line (docker --format json)
 *   TEMPLATE          one line per row, not aligned
 */
export function formatRows(format: string, rows: object[], o: FormatOptions): string {
  const f = format.trim();
  if (f === 'json') return rows.map((r) => JSON.stringify(plain(r)) + '\n').join('');
  const isTable = f === '' || f === 'table' || f.startsWith('table ');
  const src = unescapeFormat(f === '' || f === 'table' ? o.defaultTable : isTable ? f.slice('table '.length).trim() : format);
  const tmpl = Template.parse(src);
  if (!isTable) return rows.map((r) => tmpl.execute(r, { strictRoot: true }) + '\n').join('');
  const header = tmpl.execute(headerContext(rows[0], o.headers ?? {}));
  const lines = [header, ...rows.map((r) => tmpl.execute(r, { strictRoot: true }))];
  return renderTable(lines.map((l) => l.split('\t')), o);
}

/**
 * An object answering every field with its header name, so running the row
 * template on it yields the header line (how Docker's formatter does it).
 */
function headerContext(sample: object | undefined, headers: Record<string, string>): object {
  return new Proxy({}, {
    has: () => true,
    get: (_t, key) => {
      if (typeof key !== 'string') return undefined;
      const name = headers[key] ?? key.replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
      const v = sample ? (sample as Record<string, unknown>)[key] : undefined;
      return typeof v === 'function' ? () => name : name;
    },
  });
}

/** Drops function-valued fields (methods such as Label) for JSON output. */
function plain(r: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(r).filter(([, v]) => typeof v !== 'function'));
}

/** inspect -f: one template per object, no header. */
export function formatEach(format: string, objects: unknown[]): string {
  if (format.trim() === 'json') return objects.map((o) => JSON.stringify(o) + '\n').join('');
  let tmpl: Template;
  try {
    tmpl = Template.parse(unescapeFormat(format));
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message, { field: 'format' });
  }
  return objects.map((o) => tmpl.execute(o) + '\n').join('');
}
