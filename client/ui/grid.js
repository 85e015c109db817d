/**
 * The stage: a grid of tiles sized to fill the space (1..25+ tiles at 16:9), or, while someone
 * shares a screen, a presentation layout (screens large, people in a strip).
 */

import { h } from "./element.js";
import { Tile } from "./tile.js";

const ASPECT = 16 / 9;
const GAP = 10;

export class Grid {
  /**
   * @param {HTMLElement} root the stage container
   * @param {(tile: Tile) => void} onTileResize size changes, for simulcast layer choice
   */
  constructor(root, onTileResize) {
    this._root = root;
    this._onTileResize = onTileResize;
    /** @type {Map<string, Tile>} */
    this._tiles = new Map();
    this._main = h("div.stage-main");
    this._people = h("div.stage-people");
    root.replaceChildren(this._main, this._people);
    this._resizeObserver = new ResizeObserver(() => this._layout());
    this._resizeObserver.observe(root);
  }

  /** @returns {Tile[]} */
  get tiles() {
    return [...this._tiles.values()];
  }

  /**
   * Brings the tiles in line with the models.
   * @param {import("../room.js").TileModel[]} models
   */
  render(models) {
    const seen = new Set();
    const screens = [];
    const people = [];
    for (const model of models) {
      seen.add(model.key);
      let tile = this._tiles.get(model.key);
      if (tile) tile.update(model);
      else {
        tile = new Tile(model, this._onTileResize);
        this._tiles.set(model.key, tile);
      }
      (model.source === "screen" ? screens : people).push(tile.el);
    }
    for (const [key, tile] of this._tiles) {
      if (!seen.has(key)) {
        tile.destroy();
        this._tiles.delete(key);
      }
    }
    placeChildren(this._main, screens);
    placeChildren(this._people, people);
    const presenting = screens.length > 0;
    this._root.classList.toggle("presentation", presenting);
    this._main.hidden = !presenting;
    this._root.dataset.count = String(people.length);
    this._layout();
  }

  _layout() {
    const presenting = this._root.classList.contains("presentation");
    const box = presenting ? this._main : this._people;
    const n = box.children.length;
    if (n === 0) return;
    const width = box.clientWidth;
    const height = box.clientHeight;
    if (presenting) {
      this._people.style.removeProperty("--tile-w");
      this._people.style.removeProperty("--tile-h");
    }
    const aspect = height > width * 1.2 ? 1 : ASPECT; // phones in portrait: square tiles
    const { w, h: th } = bestFit(n, width, height, aspect);
    box.style.setProperty("--tile-w", `${w}px`);
    box.style.setProperty("--tile-h", `${th}px`);
  }
}

/**
 * The largest tile of the given aspect ratio that fits `n` tiles in a `width` x `height` box.
 * @param {number} n
 * @param {number} width
 * @param {number} height
 * @param {number} [aspect] width / height of a tile
 * @returns {{w: number, h: number, cols: number}}
 */
export function bestFit(n, width, height, aspect = ASPECT) {
  let best = { w: 0, h: 0, cols: 1 };
  for (let cols = 1; cols <= n; cols += 1) {
    const rows = Math.ceil(n / cols);
    const w = Math.min((width - GAP * (cols - 1)) / cols, ((height - GAP * (rows - 1)) / rows) * aspect);
    if (w > best.w) best = { w: Math.floor(w), h: Math.floor(w / aspect), cols };
  }
  return best;
}

/** Orders a container's children as `nodes`, moving only what is out of place. */
function placeChildren(container, nodes) {
  nodes.forEach((node, i) => {
    if (container.children[i] !== node) container.insertBefore(node, container.children[i] ?? null);
  });
  while (container.children.length > nodes.length) container.lastElementChild.remove();
}
