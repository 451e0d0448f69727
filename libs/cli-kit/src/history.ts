// docker history: an image's history entries (its config's "history"),
// newest first, each non-empty one with the size of the layer it made.
// Only the image itself has an ID here; older entries are "<missing>", as
// Docker shows them for images that came from a registry or BuildKit.
import { goTimeString } from './display';
import type { FormatOptions } from './format';
import { humanDuration, humanSize } from './units';

export interface HistoryItem {
  created: string;
  createdBy: string;
  comment: string;
  emptyLayer: boolean;
}

export const HISTORY_FORMAT: FormatOptions = {
  defaultTable: '{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}',
  headers: { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' },
};

/** Docker's stringutils.Ellipsis: at most `max` characters, the last one "…". */
function ellipsis(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * Rows for `history` of image `imageId`: `layerSizes` are the sizes of its
 * layers bottom first, matched in order to the entries that made a layer.
 */
export function historyRows(imageId: string, items: HistoryItem[], layerSizes: number[], nowMs: number, o: { noTrunc: boolean; human: boolean }): Record<string, unknown>[] {
  let layer = 0;
  const rows = items.map((h) => {
    const size = h.emptyLayer ? 0 : (layerSizes[layer++] ?? 0);
    const created = Date.parse(h.created);
    const createdBy = h.createdBy.replace(/\s+/g, ' ');
    return {
      ID: '<missing>',
      CreatedSince: Number.isNaN(created) ? 'N/A' : o.human ? `${humanDuration(Math.max(0, nowMs - created))} ago` : h.created,
      CreatedAt: Number.isNaN(created) ? '' : goTimeString(created),
      CreatedBy: o.noTrunc ? createdBy : ellipsis(createdBy, 45),
      Size: o.human ? humanSize(size) : String(size),
      Comment: h.comment,
    };
  }).reverse();
  if (rows[0]) rows[0].ID = o.noTrunc ? imageId : imageId.replace(/^sha256:/, '').slice(0, 12);
  return rows;
}
