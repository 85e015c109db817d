/**
 * A tiny DOM builder: h("button.btn", {onclick}, "text", child).
 */

/**
 * Creates an element. `tag` may carry an id and classes ("div#me.tile.self"); attributes starting with "on"
 * become listeners, `dataset`/`style` objects are merged, `html` sets innerHTML (trusted only).
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Node|string|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const [head, ...classes] = tag.split(".");
  const [name, id] = head.split("#");
  const node = document.createElement(name || "div");
  if (id) node.id = id;
  if (classes.length) node.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") Object.assign(node.style, value);
    else if (key === "html") node.innerHTML = value;
    else if (key === "class") node.className += ` ${value}`;
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child);
  }
  return node;
}

/**
 * Initials of a display name ("Ada Lovelace" -> "AL").
 * @param {string} name
 * @returns {string}
 */
export function initials(name) {
  const words = (name || "?").trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : [words[0] ?? "?"];
  return letters.map((w) => [...w][0]?.toUpperCase() ?? "").join("") || "?";
}

/**
 * A stable colour for a name (avatar background).
 * @param {string} seed
 * @returns {string}
 */
export function colorFor(seed) {
  let hash = 0;
  for (const ch of seed || "?") hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return `hsl(${hash % 360} 55% 42%)`;
}
