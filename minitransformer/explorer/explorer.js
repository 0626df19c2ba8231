// The attention explorer: draws the numbers of <script id="explorer-data"> (written by
// minitransformer/explorer/page.py) into the page's four sections. Plain DOM and SVG calls; no
// library. Text from the data is only ever set as textContent, never parsed as HTML.
"use strict";

(function () {
  const data = JSON.parse(document.getElementById("explorer-data").textContent);
  const SVG = "http://www.w3.org/2000/svg";
  const ROW = 22;  // the head view's height of one piece, in pixels
  const QUERY_X = 170;  // where the query column's text ends and its lines start
  const KEY_X = 390;  // where the lines end and the key column's text starts
  const MAP_PIXELS = 84;  // the model view's maps are drawn this wide

  // What is shown: the sentence, the head view's layer and heads, and the piece whose lines are
  // shown (`locked` by a click, `hovered` while the pointer is on it), as {side, index} with
  // side "query" (its own weights) or "key" (the weights others give it).
  const state = {sentence: 0, layer: 0, heads: new Set([0]), locked: null, hovered: null};

  function element(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svgElement(tag, attributes, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // A weight as the page stores it: whole numbers of 1/scale (see page.py), back to 0..1.
  function weight(layer, head, query, key) {
    return data.sentences[state.sentence].attention[layer][head][query][key] / data.scale;
  }

  // Head h's colour: each hue the golden angle (137.5 degrees) past the last, so that no two
  // heads share one and neighbours are far apart, whatever the number of heads.
  function headColour(head) {
    return "hsl(" + Math.round((head * 137.5) % 360) + ", 70%, 40%)";
  }

  function pieces() {
    return data.sentences[state.sentence].pieces;
  }

  // ---- word pieces and the sentence choice ----

  function drawPieces() {
    const section = document.getElementById("pieces");
    data.sentences.forEach(function (sentence, index) {
      const line = element("p", {"class": "piece-line"});
      line.appendChild(element("span", {"class": "label"}, "sentence " + (index + 1) + ":"));
      sentence.pieces.forEach(function (piece, position) {
        const chip = element("span", {"class": "piece"}, piece);
        chip.appendChild(element("sub", {}, String(position)));
        line.appendChild(chip);
      });
      line.appendChild(element("span", {"class": "count"},
                               sentence.pieces.length + " pieces"));
      section.appendChild(line);
    });
    if (data.sentences.length < 2) return;
    const choice = document.getElementById("sentence-choice");
    choice.hidden = false;
    data.sentences.forEach(function (_, index) {
      const input = element("input", {type: "radio", name: "sentence", value: String(index)});
      input.checked = index === state.sentence;
      input.addEventListener("change", function () {
        state.sentence = index;
        state.locked = state.hovered = null;
        drawHeadView();
        drawModelView();
      });
      const label = element("label", {"class": "sentence-option"});
      label.appendChild(input);
      label.appendChild(document.createTextNode(" sentence " + (index + 1)));
      choice.appendChild(label);
    });
  }

  // ---- head view: the controls ----

  function makeControls() {
    const select = document.getElementById("layer");
    for (let layer = 0; layer < data.layers; layer++) {
      select.appendChild(element("option", {value: String(layer)}, String(layer + 1)));
    }
    select.addEventListener("change", function () {
      state.layer = Number(select.value);
      drawLines();
      markOpenMaps();
    });
    const buttons = document.getElementById("head-buttons");
    for (let head = 0; head < data.heads; head++) {
      const button = element("button", {type: "button", "class": "head", "data-head": head,
                                        title: "head " + (head + 1)}, String(head + 1));
      button.style.setProperty("--head-colour", headColour(head));
      button.addEventListener("click", function () {
        if (state.heads.has(head)) state.heads.delete(head); else state.heads.add(head);
        drawLines();
        markOpenMaps();
      });
      buttons.appendChild(button);
    }
    document.getElementById("all-heads").addEventListener("click", function () {
      state.heads = new Set([...Array(data.heads).keys()]);
      drawLines();
      markOpenMaps();
    });
    document.getElementById("no-heads").addEventListener("click", function () {
      state.heads = new Set();
      drawLines();
      markOpenMaps();
    });
  }

  function showControls() {
    document.getElementById("layer").value = String(state.layer);
    for (const button of document.querySelectorAll("button.head")) {
      button.setAttribute("aria-pressed", String(state.heads.has(Number(button.dataset.head))));
    }
  }

  // ---- head view: the pieces in two columns, the lines between them ----

  function drawHeadView() {
    const svg = document.getElementById("lines");
    svg.replaceChildren();
    const count = pieces().length;
    const height = ROW * (count + 1) + 8;
    svg.setAttribute("viewBox", "0 0 560 " + height);
    svg.setAttribute("width", "560");
    svg.setAttribute("height", String(height));
    svg.appendChild(svgElement("text", {x: QUERY_X, y: 14, "class": "column"}, "query"));
    svg.appendChild(svgElement("text", {x: KEY_X, y: 14, "class": "column key"},
                               "key (looked at)"));
    svg.appendChild(svgElement("g", {id: "line-group"}));
    for (const side of ["query", "key"]) {
      pieces().forEach(function (piece, index) {
        const text = svgElement("text", {
          x: side === "query" ? QUERY_X - 6 : KEY_X + 6, y: ROW * (index + 1) + 15,
          "class": "token " + side, "data-index": index, tabindex: 0}, piece);
        const target = {side: side, index: index};
        text.addEventListener("mouseenter", function () { state.hovered = target; drawLines(); });
        text.addEventListener("mouseleave", function () { state.hovered = null; drawLines(); });
        text.addEventListener("click", function () { toggleLock(target); });
        text.addEventListener("keydown", function (event) {
          if (event.key === "Enter" || event.key === " ") toggleLock(target);
        });
        svg.appendChild(text);
      });
    }
    drawLines();
  }

  function toggleLock(target) {
    const same = state.locked && state.locked.side === target.side &&
                 state.locked.index === target.index;
    state.locked = same ? null : target;
    drawLines();
  }

  function focused() {
    return state.hovered || state.locked;
  }

  // One line per (head, query, key) of the focused piece (or of every piece), its opacity the
  // weight; a weight stored as 0 draws nothing.
  function drawLines() {
    showControls();
    const group = document.getElementById("line-group");
    group.replaceChildren();
    const count = pieces().length;
    const focus = focused();
    const queries = focus && focus.side === "query" ? [focus.index] : [...Array(count).keys()];
    const keys = focus && focus.side === "key" ? [focus.index] : [...Array(count).keys()];
    const heads = [...state.heads].sort(function (a, b) { return a - b; });
    for (const head of heads) {
      for (const query of queries) {
        for (const key of keys) {
          const w = weight(state.layer, head, query, key);
          if (w === 0) continue;
          group.appendChild(svgElement("line", {
            x1: QUERY_X, y1: ROW * (query + 1) + 11, x2: KEY_X, y2: ROW * (key + 1) + 11,
            stroke: headColour(head), "stroke-opacity": w, "data-head": head,
            "data-query": query, "data-key": key}));
        }
      }
    }
    for (const text of document.querySelectorAll("#lines text.token")) {
      const on = focus && text.classList.contains(focus.side) &&
                 Number(text.dataset.index) === focus.index;
      text.classList.toggle("focus", Boolean(on));
      text.classList.toggle("locked", Boolean(on && state.locked === focus));
    }
    showReadout(focus, heads);
  }

  // In words, a line per drawn head: the focused piece's largest weights (those that show
  // at two decimals), or what is drawn when no piece is.
  function showReadout(focus, heads) {
    const readout = document.getElementById("readout");
    readout.replaceChildren();
    if (heads.length === 0) {
      readout.appendChild(element("p", {}, "No head chosen: pick one or more above."));
      return;
    }
    if (!focus) {
      readout.appendChild(element("p", {}, "layer " + (state.layer + 1) + ", " +
        (heads.length === 1 ? "head " : "heads ") +
        heads.map(function (h) { return h + 1; }).join(", ") +
        ": every piece's lines. Point at a piece to see its own."));
      return;
    }
    const name = pieceName(focus.index);
    for (const head of heads) {
      const largest = pieces().map(function (_, other) {
        const w = focus.side === "query" ? weight(state.layer, head, focus.index, other)
                                         : weight(state.layer, head, other, focus.index);
        return {other: other, w: w};
      }).filter(function (s) { return s.w >= 0.005; })
        .sort(function (a, b) { return b.w - a.w; }).slice(0, 5);
      const line = element("p", {"class": "head-readout"});
      line.style.setProperty("--head-colour", headColour(head));
      line.textContent = "layer " + (state.layer + 1) + ", head " + (head + 1) + ": " +
        (focus.side === "query" ? name + " looks at " : "looking at " + name + ": ") +
        largest.map(function (s) { return pieceName(s.other) + " " + s.w.toFixed(2); })
               .join(", ");
      readout.appendChild(line);
    }
  }

  // A piece as inspect's text output names it: a piece that occurs more than once in the
  // sentence gets its position, the(1) and the(5).
  function pieceName(position) {
    const piece = pieces()[position];
    const repeated = pieces().filter(function (other) { return other === piece; }).length > 1;
    return repeated ? piece + "(" + position + ")" : piece;
  }

  // ---- model view: a small map per layer and head, captioned ----

  function drawModelView() {
    const grid = document.getElementById("grid");
    grid.replaceChildren();
    grid.style.gridTemplateColumns = "auto repeat(" + data.heads + ", " + MAP_PIXELS + "px)";
    grid.appendChild(element("span", {"class": "corner"}));
    for (let head = 0; head < data.heads; head++) {
      grid.appendChild(element("span", {"class": "grid-label"}, "head " + (head + 1)));
    }
    const sentence = data.sentences[state.sentence];
    const count = sentence.pieces.length;
    const cell = Math.max(1, Math.floor(MAP_PIXELS / count));
    for (let layer = 0; layer < data.layers; layer++) {
      grid.appendChild(element("span", {"class": "grid-label"}, "layer " + (layer + 1)));
      for (let head = 0; head < data.heads; head++) {
        const figure = element("figure", {"class": "map", "data-layer": layer, "data-head": head,
                                          title: "layer " + (layer + 1) + ", head " + (head + 1) +
                                                 ": click to open in the head view"});
        const canvas = element("canvas", {width: cell * count, height: cell * count});
        const paint = canvas.getContext("2d");
        paint.fillStyle = "#fff";
        paint.fillRect(0, 0, canvas.width, canvas.height);
        const rows = sentence.attention[layer][head];
        for (let query = 0; query < count; query++) {
          for (let key = 0; key < count; key++) {
            paint.fillStyle = "rgba(20, 50, 140, " + rows[query][key] / data.scale + ")";
            paint.fillRect(key * cell, query * cell, cell, cell);
          }
        }
        figure.appendChild(canvas);
        figure.appendChild(element("figcaption", {}, sentence.captions[layer][head]));
        figure.addEventListener("click", function () { openInHeadView(layer, head); });
        grid.appendChild(figure);
      }
    }
    markOpenMaps();
  }

  function openInHeadView(layer, head) {
    state.layer = layer;
    state.heads = new Set([head]);
    drawLines();
    markOpenMaps();
    document.getElementById("head-view").scrollIntoView({block: "start"});
  }

  // The maps the head view shows now are outlined.
  function markOpenMaps() {
    for (const figure of document.querySelectorAll("#grid figure.map")) {
      const open = Number(figure.dataset.layer) === state.layer &&
                   state.heads.has(Number(figure.dataset.head));
      figure.classList.toggle("open", open);
    }
  }

  // ---- the sentence embedding ----

  function signed(value) {
    return (value >= 0 ? "+" : "") + value.toFixed(4);
  }

  function drawEmbedding() {
    const section = document.getElementById("embedding");
    data.sentences.forEach(function (sentence, index) {
      section.appendChild(element("p", {"class": "vector"},
        "sentence " + (index + 1) + ": a vector of " + data.width + " numbers, the first " +
        sentence.first_values.length + ": [" + sentence.first_values.map(signed).join(", ") +
        ", ...]; its length (norm) " + sentence.norm.toFixed(4)));
    });
    if (data.cosine !== null) {
      section.appendChild(element("p", {id: "cosine"},
        "cosine of sentences 1 and 2: " + data.cosine.toFixed(4)));
    }
  }

  drawPieces();
  makeControls();
  drawHeadView();
  drawModelView();
  drawEmbedding();
})();
