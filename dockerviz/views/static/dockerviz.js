// dockerviz front end: the layer explorer and the image diff.
//
// Everything that comes from an image (paths, commands, labels, env values)
// was written by strangers: it reaches the page only as textContent or as an
// attribute value set with setAttribute, never as markup.

const MARK = {
  added: ["+", "added"],
  modified: ["~", "modified"],
  removed: ["\u2212", "removed"],
  changed: ["~", "changed"],
  rewritten: ["\u21bb", "rewritten"],
  same: ["=", "same"],
  shared: ["=", "shared"],
  "only in A": ["A", "only"],
  "only in B": ["B", "only"],
};

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = String(v);
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function fmtBytes(n) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return "";
  let v = Number(n);
  const neg = v < 0;
  v = Math.abs(v);
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  const s = i === 0 ? `${v.toFixed(0)} ${units[i]}` : `${v.toFixed(1)} ${units[i]}`;
  return neg ? `\u2212${s}` : s;
}

function fmtDelta(n) {
  if (n === null || n === undefined) return "";
  if (Number(n) > 0) return `+${fmtBytes(n)}`;
  return fmtBytes(n);
}

function mark(change) {
  if (!change) return h("span", { class: "dvz-mark dvz-none" });
  const [sym, word] = MARK[change] || ["?", change];
  return h("span", { class: `dvz-mark dvz-${change.replace(/\s+/g, "-")}` }, `${sym} ${word}`);
}

function labelled(text, control, cls) {
  return h("label", { class: cls || "dvz-control" }, h("span", { class: "dvz-label" }, text), control);
}

function select(options, value, onchange, name) {
  const s = h("select", { name, onchange: () => onchange(s.value) });
  for (const [v, text] of options) {
    const o = h("option", { value: v }, text);
    if (String(v) === String(value)) o.selected = true;
    s.append(o);
  }
  return s;
}

function debounce(fn, ms) {
  let t = null;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

function table(cls, label, headings) {
  const t = h("table", { class: `dvz-table ${cls}`, "aria-label": label });
  const tr = h("tr");
  for (const hd of headings) tr.append(h("th", { scope: "col", class: hd[1] || "" }, hd[0]));
  t.append(h("thead", null, tr));
  const body = h("tbody");
  t.append(body);
  return [t, body];
}

function errorBanner(model) {
  const box = h("div", { class: "dvz-error", role: "alert" });
  const show = () => {
    const e = model.get("error");
    box.textContent = e ? `Error: ${e}` : "";
    box.hidden = !e;
  };
  model.on("change:error", show);
  show();
  return box;
}

function setModel(model, key, value) {
  model.set(key, value);
  model.save_changes();
}

// ---------------------------------------------------------------- explorer

// A side pane showing one file's contents or diff. Asked for lazily, one custom message per file; what comes
// back (names, text, diffs from the image) is drawn with textContent only.
function filePane(model, ask) {
  const title = h("div", { class: "dvz-heading dvz-pane-title" }, "File contents");
  const meta = h("div", { class: "dvz-muted dvz-pane-meta", "aria-live": "polite" }, "Select a file's \u201cview\u201d button.");
  const body = h("pre", { class: "dvz-mono dvz-pane-body", tabindex: 0 });
  const closeBtn = h("button", { type: "button", class: "dvz-pane-close", "aria-label": "Close the file pane" }, "\u00d7");
  const pane = h("section", { class: "dvz-pane", "aria-label": "File contents", hidden: true }, h("div", { class: "dvz-pane-head" }, title, closeBtn), meta, body);
  closeBtn.addEventListener("click", () => { pane.hidden = true; });
  let seq = 0;
  let want = 0;
  const line = (text, cls) => h("span", { class: `dvz-line${cls ? ` ${cls}` : ""}` }, text + "\n");
  const show = (p) => {
    body.replaceChildren();
    body.className = "dvz-mono dvz-pane-body";
    if (!p) return;
    const size = p.size !== undefined && p.size !== null ? fmtBytes(p.size) : "";
    if (p.view === "error") {
      meta.textContent = p.message;
      return;
    }
    if (p.view === "diff") {
      const sizes = p.old_size !== null && p.new_size !== null ? ` (${fmtBytes(p.old_size)} \u2192 ${fmtBytes(p.new_size)})` : "";
      meta.textContent = `${p.change}${sizes}` + (p.truncated || p.shown_cut ? ", diff cut short" : "");
      for (const [name, a, b] of p.attributes || []) body.append(line(`${name}: ${a} \u2192 ${b}`, "dvz-attr"));
      for (const l of (p.diff || "").split("\n")) {
        if (!l) continue;
        const cls = l.startsWith("+++") || l.startsWith("---") ? "dvz-dhead" : l.startsWith("@@") ? "dvz-hunk"
          : l.startsWith("+") ? "dvz-add" : l.startsWith("-") ? "dvz-del" : "";
        body.append(line(l, cls));
      }
      body.dataset.view = "diff";
      return;
    }
    body.dataset.view = p.kind;
    if (p.kind === "text") {
      meta.textContent = `text, ${size}` + (p.truncated || p.shown_cut ? " (start shown)" : "");
      body.textContent = p.text;
    } else if (p.kind === "binary") {
      meta.textContent = `binary, ${size}: ${p.type}`;
      body.textContent = p.hex;
    } else if (p.kind === "symlink") {
      meta.textContent = "symbolic link (not followed)";
      body.textContent = `\u2192 ${p.link}`;
    } else {
      meta.textContent = p.kind === "missing" ? "not in this layer's filesystem" : p.kind;
    }
  };
  model.on("msg:custom", (msg) => {
    if (!msg || msg.type !== "file" || msg.req !== want) return;
    pane.dataset.loading = "0";
    if (msg.stale) { meta.textContent = "The view changed; select the file again."; return; }
    show(msg.pane);
    pane.dataset.ms = (performance.now() - pane._t0).toFixed(1);
  });
  const open = (path, request) => {
    seq += 1;
    want = seq;
    pane.hidden = false;
    pane.dataset.loading = "1";
    pane.dataset.path = path;
    pane._t0 = performance.now();
    title.textContent = path;
    meta.textContent = "Reading\u2026";
    body.replaceChildren();
    model.send({ ...request, type: "file", req: seq });
  };
  return { pane, open };
}

function viewButton(path, onclick) {
  return h("button", { type: "button", class: "dvz-view", "aria-label": `View ${path}`, title: `View ${path}`, onclick }, "view");
}

function renderExplorer(model, el) {
  const root = h("div", { class: "dvz dvz-explorer" });
  el.append(root);
  root.append(errorBanner(model));

  // header badges
  const headerBox = h("div", { class: "dvz-header" });
  root.append(headerBox);
  const drawHeader = () => {
    const s = model.get("header") || {};
    headerBox.replaceChildren(...[
      h("div", { class: "dvz-title" }, h("b", null, s.name || ""), " ", h("span", { class: "dvz-muted dvz-mono" }, (s.id || "").slice(0, 19)),
        " ", h("span", { class: "dvz-muted" }, `from ${s.source || ""}`)),
      h("div", { class: "dvz-badges" },
        badge("Total size", fmtBytes(s.size)),
        badge("Efficiency", s.efficiency === undefined ? "" : `${(100 * s.efficiency).toFixed(1)} %`),
        badge("Reclaimable", fmtBytes(s.reclaimable)),
        badge("Layers", `${s.layers} (${s.steps} steps)`)),
      s.recorded ? h("div", { class: "dvz-warn" }, `Recorded data: ${s.recorded}`) : null,
    ].filter(Boolean));
  };
  drawHeader();
  model.on("change:header", drawHeader);

  const main = h("div", { class: "dvz-main" });
  root.append(main);

  // steps
  const [stepsTable, stepsBody] = table("dvz-steps", "History steps (select one to see its changes)",
    [["Step", "num"], ["Size", "dvz-size-col"], ["Changes"], ["Command"]]);
  main.append(h("div", { class: "dvz-steps-box" }, h("div", { class: "dvz-heading" }, "History steps"), stepsTable));
  const drawSteps = () => {
    const steps = model.get("steps") || [];
    const max = Math.max(1, ...steps.map((s) => s.size));
    stepsBody.replaceChildren();
    for (const s of steps) {
      const pick = () => setModel(model, "step", s.step);
      const tr = h("tr", {
        class: `dvz-step${s.empty ? " dvz-empty" : ""}`, tabindex: 0, "data-step": s.step,
        "aria-label": `Select step ${s.step}`,
        onclick: pick,
        onkeydown: (ev) => {
          if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); pick(); }
          if (ev.key === "ArrowDown" && tr.nextSibling) { ev.preventDefault(); tr.nextSibling.focus(); }
          if (ev.key === "ArrowUp" && tr.previousSibling) { ev.preventDefault(); tr.previousSibling.focus(); }
        },
      });
      const bar = h("div", { class: "dvz-bar" });
      bar.style.width = `${(100 * s.size) / max}%`;
      tr.append(
        h("td", { class: "num" }, String(s.step)),
        h("td", { class: "dvz-size-col" }, h("div", { class: "dvz-bar-track" }, bar),
          h("span", null, s.empty ? "no layer" : fmtBytes(s.size))),
        h("td", { class: "dvz-counts" }, s.empty ? "" : `+${s.added} ~${s.modified} \u2212${s.removed}`),
        h("td", { class: "dvz-cmd dvz-mono" }, s.cmd),
      );
      stepsBody.append(tr);
    }
    markStep();
  };
  const markStep = () => {
    const cur = model.get("step");
    for (const tr of stepsBody.children) {
      const on = Number(tr.dataset.step) === cur;
      tr.classList.toggle("dvz-selected", on);
      tr.setAttribute("aria-selected", on ? "true" : "false");
    }
  };

  // detail: command, controls, tree
  const detail = h("div", { class: "dvz-detail" });
  main.append(detail);
  const stepTitle = h("div", { class: "dvz-heading dvz-step-title" });
  const cmdPre = h("pre", { class: "dvz-mono dvz-command-text" });
  const cmdBox = h("details", { class: "dvz-command" }, h("summary", null, "Full command of this step"), cmdPre);
  detail.append(stepTitle, cmdBox);

  const scopeName = `dvz-scope-${Math.random().toString(36).slice(2)}`;
  const radio = (value, text) => {
    const r = h("input", { type: "radio", name: scopeName, value, onchange: () => setModel(model, "scope", value) });
    return [r, h("label", { class: "dvz-radio" }, r, ` ${text}`)];
  };
  const [rLayer, lLayer] = radio("layer", "This layer only");
  const [rCum, lCum] = radio("cumulative", "Everything up to this layer");
  const filterInput = h("input", { type: "search", class: "dvz-filter", placeholder: "e.g. usr/lib", spellcheck: "false" });
  const pushFilter = debounce(() => setModel(model, "path_filter", filterInput.value), 250);
  filterInput.addEventListener("input", pushFilter);
  const sizeSelect = select([[0, "any size"], [1000, "1 kB"], [10000, "10 kB"], [100000, "100 kB"],
    [1000000, "1 MB"], [10000000, "10 MB"], [100000000, "100 MB"]], model.get("min_size"),
  (v) => setModel(model, "min_size", Number(v)), "min_size");
  const sortSelect = select([["name", "name"], ["size", "size (largest first)"]], model.get("sort"),
    (v) => setModel(model, "sort", v), "sort");
  detail.append(h("div", { class: "dvz-controls" },
    h("fieldset", { class: "dvz-scope" }, h("legend", null, "Show"), lLayer, lCum),
    labelled("Path contains", filterInput),
    labelled("Minimum size", sizeSelect),
    labelled("Sort by", sortSelect)));
  const syncControls = () => {
    rLayer.checked = model.get("scope") === "layer";
    rCum.checked = model.get("scope") === "cumulative";
    if (document.activeElement !== filterInput) filterInput.value = model.get("path_filter");
    sizeSelect.value = String(model.get("min_size"));
    if (sizeSelect.value !== String(model.get("min_size"))) {
      sizeSelect.append(h("option", { value: model.get("min_size") }, fmtBytes(model.get("min_size"))));
      sizeSelect.value = String(model.get("min_size"));
    }
    sortSelect.value = model.get("sort");
  };

  const treeStatus = h("div", { class: "dvz-status", "aria-live": "polite" });
  const [treeTable, treeBody] = table("dvz-tree", "Files of the selected layer",
    [["Change"], ["Name"], ["Size", "num"], ["Mode"], ["Owner"], ["Layer", "num"]]);
  const files = filePane(model);
  detail.append(treeStatus, h("div", { class: "dvz-split" }, h("div", { class: "dvz-tree-box" }, treeTable), files.pane));

  const pending = new Map();
  let reqSeq = 0;

  const request = (id, offset, onrows) => {
    reqSeq += 1;
    pending.set(reqSeq, { onrows, t0: performance.now() });
    model.send({ type: "children", id, offset, version: model.get("tree").version, req: reqSeq });
  };

  const treeRow = (r, depth, parentPath) => {
    const path = parentPath === "/" ? `/${r.n}` : `${parentPath}/${r.n}`;
    const tr = h("tr", { class: `dvz-row dvz-k-${r.k}${r.c ? ` dvz-row-${r.c}` : ""}`, "data-id": r.i, "data-depth": depth, "data-path": path });
    const nameCell = h("td", { class: "dvz-name" });
    nameCell.style.paddingLeft = `${0.3 + depth * 1.2}em`;
    if (r.d) {
      const btn = h("button", { class: "dvz-toggle", type: "button", "aria-expanded": "false", "aria-label": `Open ${path}`, title: `Open ${path}` }, "\u25b8");
      btn.addEventListener("click", () => toggle(tr, btn, r, depth, path));
      nameCell.append(btn);
    } else {
      nameCell.append(h("span", { class: "dvz-toggle-space" }));
    }
    nameCell.append(h("span", { class: "dvz-fname" }, r.n + (r.k === "dir" ? "/" : "")));
    if (r.l) nameCell.append(h("span", { class: "dvz-muted" }, r.k === "hardlink" ? ` \u21d2 /${r.l}` : ` \u2192 ${r.l}`));
    if (r.x) nameCell.append(h("span", { class: "dvz-muted" }, ` (${r.x})`));
    if (r.k !== "dir") {
      nameCell.append(" ", viewButton(path, (ev) => {
        ev.stopPropagation();
        files.open(path, { id: r.i, version: model.get("tree").version });
      }));
    }
    let size = fmtBytes(r.s);
    if (r.p !== undefined) size += ` (was ${fmtBytes(r.p)})`;
    tr.append(
      h("td", { class: "dvz-change" }, mark(r.c)),
      nameCell,
      h("td", { class: "num" }, size),
      h("td", { class: "dvz-mono" }, r.m || ""),
      h("td", { class: "dvz-mono" }, r.o || ""),
      h("td", { class: "num" }, r.w === undefined ? "" : String(r.w)),
    );
    return tr;
  };

  const moreRow = (id, depth, parentPath, shown, total) => {
    const tr = h("tr", { class: "dvz-more", "data-depth": depth });
    const btn = h("button", { type: "button", class: "dvz-more-btn" }, `Show more (${shown} of ${total} shown)`);
    const td = h("td", { colspan: 6 }, btn);
    td.style.paddingLeft = `${1.5 + depth * 1.2}em`;
    tr.append(td);
    btn.addEventListener("click", () => {
      btn.disabled = true;
      request(id, shown, (reply) => insertRows(tr, reply, depth, parentPath, true));
    });
    return tr;
  };

  // Inserts reply rows before `anchor` (or after `after`), with a "show more" row when pages remain.
  const insertRows = (anchorRow, reply, depth, parentPath, replaceAnchor) => {
    const frag = document.createDocumentFragment();
    for (const r of reply.rows) frag.append(treeRow(r, depth, parentPath));
    const shown = reply.offset + reply.rows.length;
    if (shown < reply.total) frag.append(moreRow(reply.id, depth, parentPath, shown, reply.total));
    if (replaceAnchor) anchorRow.replaceWith(frag);
    else anchorRow.after(frag);
  };

  const toggle = (tr, btn, r, depth, path) => {
    if (btn.getAttribute("aria-expanded") === "true") {
      let next = tr.nextSibling;
      while (next && Number(next.dataset.depth) > depth) {
        const n = next.nextSibling;
        next.remove();
        next = n;
      }
      btn.setAttribute("aria-expanded", "false");
      btn.setAttribute("aria-label", `Open ${path}`);
      btn.textContent = "\u25b8";
      return;
    }
    btn.disabled = true;
    tr.classList.add("dvz-loading");
    request(r.i, 0, (reply, t0) => {
      insertRows(tr, reply, depth + 1, path, false);
      btn.disabled = false;
      tr.classList.remove("dvz-loading");
      btn.setAttribute("aria-expanded", "true");
      btn.setAttribute("aria-label", `Close ${path}`);
      btn.textContent = "\u25be";
      const ms = (performance.now() - t0).toFixed(1);
      tr.dataset.openMs = ms;
      root.dataset.lastOpenMs = ms;
    });
  };

  model.on("msg:custom", (msg) => {
    if (!msg || msg.type !== "children") return;
    const p = pending.get(msg.req);
    pending.delete(msg.req);
    if (!p || msg.stale || msg.error) return;
    p.onrows(msg, p.t0);
  });

  const drawTree = () => {
    const tree = model.get("tree") || {};
    pending.clear();
    treeBody.replaceChildren();
    const steps = model.get("steps") || [];
    const cur = steps.find((s) => s.step === model.get("step"));
    const filtered = model.get("path_filter") || model.get("min_size");
    if (cur && cur.layer === null) {
      treeStatus.textContent = "This step made no layer: it changed only the image config.";
    } else {
      treeStatus.textContent = filtered
        ? `${tree.matched} of ${tree.total} entries match the filters (${fmtBytes(tree.size)})`
        : `${tree.total} entries (${fmtBytes(tree.size)})`;
    }
    if (tree.root) {
      const anchor = h("tr", { class: "dvz-anchor" });
      treeBody.append(anchor);
      insertRows(anchor, tree.root, 0, "/", true);
    }
    root.dataset.treeVersion = String(tree.version);
  };

  const drawStepDetail = () => {
    const steps = model.get("steps") || [];
    const cur = steps.find((s) => s.step === model.get("step"));
    stepTitle.textContent = cur
      ? (cur.layer === null ? `Step ${cur.step}: no layer` : `Step ${cur.step}: layer ${cur.layer}, ${fmtBytes(cur.size)}`)
      : "";
    cmdPre.textContent = model.get("command") || "";
  };

  // waste
  const wasteSummary = h("summary");
  const [wasteTable, wasteBody] = table("dvz-waste-table", "Waste: bytes stored but hidden by a later layer",
    [["Path"], ["Size", "num"], ["Written by layer", "num"], ["Hidden by layer", "num"], ["How"]]);
  root.append(h("details", { class: "dvz-waste" }, wasteSummary, wasteTable));
  const drawWaste = () => {
    const info = model.get("waste_info") || {};
    const rows = model.get("waste") || [];
    wasteSummary.textContent = `Waste: ${info.count || 0} hidden files, ${fmtBytes(info.bytes || 0)}` +
      (rows.length < (info.count || 0) ? ` (largest ${rows.length} listed)` : "");
    wasteBody.replaceChildren(...rows.map((w) => h("tr", null,
      h("td", { class: "dvz-mono" }, w.path), h("td", { class: "num" }, fmtBytes(w.size)),
      h("td", { class: "num" }, String(w.written_by)), h("td", { class: "num" }, String(w.hidden_by)),
      h("td", null, w.how))));
  };

  // charts: drawn by the kernel the first time the section opens
  const chartsBox = h("div", { class: "dvz-charts" });
  const charts = h("details", { class: "dvz-charts-details" },
    h("summary", null, "Charts: layer sizes, biggest directories, waste by layer"), chartsBox);
  root.append(charts);
  let chartsAsked = false;
  charts.addEventListener("toggle", () => {
    if (!charts.open || chartsAsked) return;
    chartsAsked = true;
    chartsBox.textContent = "Drawing\u2026";
    model.send({ type: "figures" });
  });
  model.on("msg:custom", (msg) => {
    if (!msg || msg.type !== "figures") return;
    chartsBox.replaceChildren(...(msg.images || []).map((f) => h("figure", { class: "dvz-chart", "data-key": f.key },
      h("img", { src: `data:image/png;base64,${f.png}`, alt: f.title }),
      h("figcaption", null, f.title))));
  });

  drawSteps();
  drawStepDetail();
  syncControls();
  drawTree();
  drawWaste();
  model.on("change:steps", drawSteps);
  model.on("change:step", () => { markStep(); drawStepDetail(); });
  model.on("change:command", drawStepDetail);
  model.on("change:tree", () => { drawStepDetail(); drawTree(); });
  for (const k of ["scope", "path_filter", "min_size", "sort"]) model.on(`change:${k}`, syncControls);
  model.on("change:waste", drawWaste);
  model.on("change:waste_info", drawWaste);
  root.dataset.ready = "1";
}

function badge(label, value) {
  return h("span", { class: "dvz-badge" }, h("span", { class: "dvz-badge-label" }, label), " ", h("b", null, value));
}

// ---------------------------------------------------------------- diff

function renderDiff(model, el) {
  const root = h("div", { class: "dvz dvz-diff" });
  el.append(root);
  root.append(errorBanner(model));

  const headerBox = h("div", { class: "dvz-header" });
  const swapBtn = h("button", { type: "button", class: "dvz-swap", onclick: () => model.send({ type: "swap" }) }, "\u21c4 Swap A and B");
  const figure = h("img", { class: "dvz-figure" });
  root.append(headerBox, h("div", { class: "dvz-controls" }, swapBtn), figure);

  const drawHeader = () => {
    const s = model.get("header") || {};
    headerBox.replaceChildren(...[
      h("div", { class: "dvz-title dvz-name-a" }, h("span", { class: "dvz-ab" }, "A"), " ", h("b", null, s.name_a || ""), " ",
        h("span", { class: "dvz-muted" }, `${fmtBytes(s.size_a)}, ${s.layers_a} layers`)),
      h("div", { class: "dvz-title dvz-name-b" }, h("span", { class: "dvz-ab" }, "B"), " ", h("b", null, s.name_b || ""), " ",
        h("span", { class: "dvz-muted" }, `${fmtBytes(s.size_b)}, ${s.layers_b} layers`)),
      h("div", { class: "dvz-badges" },
        badge("Size change", fmtDelta(s.size_delta)),
        badge("Shared layers", `${s.shared_layers} (${fmtBytes(s.shared_bytes)})`),
        badge("Files", `+${s.added} added, \u2212${s.removed} removed, ~${s.changed} changed, \u21bb${s.rewritten} rewritten`)),
      s.show_secrets ? h("div", { class: "dvz-warn" }, "Secret-looking environment values are shown (show_secrets=True).") : null,
    ].filter(Boolean));
    figure.setAttribute("alt", `Total size: A ${fmtBytes(s.size_a)}, B ${fmtBytes(s.size_b)}, shared ${fmtBytes(s.shared_bytes)}`);
  };
  const drawFigure = () => {
    const png = model.get("figure");
    if (png) figure.setAttribute("src", `data:image/png;base64,${png}`);
    figure.hidden = !png;
  };

  // layers
  const [layersTable, layersBody] = table("dvz-layers", "Layers of A and B",
    [["Status"], ["Layer in A", "num"], ["Layer in B", "num"], ["Size", "num"], ["Entries", "num"], ["Command"], ["Diff id"]]);
  const layersSummary = h("summary");
  root.append(h("details", { class: "dvz-section", open: true }, layersSummary, layersTable));
  const drawLayers = () => {
    const rows = model.get("layers") || [];
    const shared = rows.filter((r) => r.status === "shared").length;
    layersSummary.textContent = `Layers: ${shared} shared, ${rows.filter((r) => r.status === "only in A").length} only in A, ${rows.filter((r) => r.status === "only in B").length} only in B`;
    layersBody.replaceChildren(...rows.map((r) => h("tr", { class: `dvz-row-${r.status.replace(/\s+/g, "-")}` },
      h("td", null, mark(r.status), r.chain ? h("span", { class: "dvz-muted" }, " (common base)") : null),
      h("td", { class: "num" }, r.a === null ? "" : String(r.a)),
      h("td", { class: "num" }, r.b === null ? "" : String(r.b)),
      h("td", { class: "num" }, fmtBytes(r.size)),
      h("td", { class: "num" }, String(r.entries)),
      h("td", { class: "dvz-cmd dvz-mono" }, r.cmd),
      h("td", { class: "dvz-mono dvz-muted" }, (r.diff_id || "").slice(7, 19)))));
  };

  // files
  const changeSelect = select([["all", "all differences"], ["added", "+ added"], ["removed", "\u2212 removed"],
    ["changed", "~ changed"], ["rewritten", "\u21bb rewritten"]], model.get("change_filter"),
  (v) => setModel(model, "change_filter", v), "change_filter");
  const pathInput = h("input", { type: "search", class: "dvz-filter", placeholder: "e.g. etc/", spellcheck: "false" });
  pathInput.addEventListener("input", debounce(() => setModel(model, "path_filter", pathInput.value), 250));
  const sortSelect = select([["delta", "size change (largest first)"], ["path", "path"]], model.get("sort"),
    (v) => setModel(model, "sort", v), "sort");
  const prevBtn = h("button", { type: "button", class: "dvz-prev", onclick: () => setModel(model, "page", model.get("page") - 1) }, "\u2190 Previous page");
  const nextBtn = h("button", { type: "button", class: "dvz-next", onclick: () => setModel(model, "page", model.get("page") + 1) }, "Next page \u2192");
  const pageInfo = h("span", { class: "dvz-status", "aria-live": "polite" });
  const [filesTable, filesBody] = table("dvz-files", "Files that differ between A and B",
    [["Change"], ["Path"], ["Size in A", "num"], ["Size in B", "num"], ["Size change", "num"], ["Mode in A"], ["Mode in B"], ["What differs"]]);
  const filesSummary = h("summary", null, "Files");
  const files = filePane(model);
  root.append(h("details", { class: "dvz-section", open: true }, filesSummary,
    h("div", { class: "dvz-controls" }, labelled("Kind of change", changeSelect), labelled("Path contains", pathInput),
      labelled("Sort by", sortSelect)),
    h("div", { class: "dvz-split" }, h("div", { class: "dvz-tree-box" }, filesTable), files.pane),
    h("div", { class: "dvz-pager" }, prevBtn, " ", pageInfo, " ", nextBtn)));
  const drawFiles = () => {
    const f = model.get("files") || { rows: [], total: 0, offset: 0, page_size: 1 };
    const pages = Math.max(1, Math.ceil(f.total / f.page_size));
    pageInfo.textContent = f.total
      ? `Page ${f.page + 1} of ${pages}: files ${f.offset + 1}\u2013${f.offset + f.rows.length} of ${f.total}`
      : "No files differ with these filters.";
    prevBtn.disabled = f.page <= 0;
    nextBtn.disabled = f.page + 1 >= pages;
    filesBody.replaceChildren(...f.rows.map((r) => h("tr", { class: `dvz-row dvz-row-${r.c}`, "data-path": r.p },
      h("td", { class: "dvz-change" }, mark(r.c)),
      h("td", { class: "dvz-mono" }, h("span", { class: "dvz-path" }, r.p), " ", viewButton(r.p, () => files.open(r.p, { path: r.p }))),
      h("td", { class: "num" }, fmtBytes(r.sa)),
      h("td", { class: "num" }, fmtBytes(r.sb)),
      h("td", { class: "num" }, fmtDelta(r.dl)),
      h("td", { class: "dvz-mono" }, r.ma),
      h("td", { class: "dvz-mono" }, r.mb),
      h("td", null, r.w))));
    changeSelect.value = model.get("change_filter");
    sortSelect.value = model.get("sort");
    if (document.activeElement !== pathInput) pathInput.value = model.get("path_filter");
  };

  // packages
  const [pkgTable, pkgBody] = table("dvz-packages", "Packages that differ between A and B",
    [["Change"], ["Manager"], ["Name"], ["Version in A"], ["Version in B"], ["Location"]]);
  const pkgSummary = h("summary", null, "Packages");
  root.append(h("details", { class: "dvz-section dvz-packages-section", open: true }, pkgSummary, pkgTable));
  const pkgMark = { added: "+", removed: "\u2212", upgraded: "\u2191", downgraded: "\u2193", changed: "~" };
  const drawPackages = () => {
    const rows = model.get("packages") || [];
    pkgSummary.textContent = `Packages: ${rows.length} differences`;
    pkgBody.replaceChildren(...rows.map((r) => h("tr", { class: `dvz-row-${r.c}` },
      h("td", null, `${pkgMark[r.c] || "?"} ${r.c}`), h("td", null, r.m), h("td", { class: "dvz-mono" }, r.n),
      h("td", { class: "dvz-mono" }, r.va === null ? "" : r.va), h("td", { class: "dvz-mono" }, r.vb === null ? "" : r.vb),
      h("td", { class: "dvz-mono dvz-muted" }, r.loc))));
  };

  // config
  const unchangedBox = h("input", { type: "checkbox", onchange: () => setModel(model, "show_unchanged", unchangedBox.checked) });
  const [configTable, configBody] = table("dvz-config", "Config differences",
    [["Change"], ["Field"], ["Key"], ["A"], ["B"]]);
  const configSummary = h("summary", null, "Config");
  root.append(h("details", { class: "dvz-section", open: true }, configSummary,
    h("div", { class: "dvz-controls" }, h("label", { class: "dvz-radio" }, unchangedBox, " Show unchanged items too")),
    configTable));
  const drawConfig = () => {
    const rows = model.get("config") || [];
    unchangedBox.checked = !!model.get("show_unchanged");
    configSummary.textContent = `Config: ${rows.filter((r) => r.change !== "same").length} differences`;
    configBody.replaceChildren(...rows.map((r) => h("tr", { class: `dvz-row-${r.change}` },
      h("td", null, mark(r.change)),
      h("td", null, r.field),
      h("td", { class: "dvz-mono" }, r.key),
      h("td", { class: `dvz-mono${r.masked ? " dvz-masked" : ""}` }, r.a === null ? "(not set)" : r.a),
      h("td", { class: `dvz-mono${r.masked ? " dvz-masked" : ""}` }, r.b === null ? "(not set)" : r.b))));
  };

  drawHeader();
  drawFigure();
  drawLayers();
  drawFiles();
  drawConfig();
  drawPackages();
  model.on("change:packages", drawPackages);
  model.on("change:header", drawHeader);
  model.on("change:figure", drawFigure);
  model.on("change:layers", drawLayers);
  for (const k of ["files", "change_filter", "sort", "path_filter", "page"]) model.on(`change:${k}`, drawFiles);
  model.on("change:config", drawConfig);
  model.on("change:show_unchanged", drawConfig);
  root.dataset.ready = "1";
}

export default {
  render({ model, el }) {
    try {
      if (model.get("kind") === "diff") renderDiff(model, el);
      else renderExplorer(model, el);
    } catch (err) {
      el.append(h("div", { class: "dvz-error", role: "alert" }, `dockerviz could not draw this view: ${err}`));
      throw err;
    }
  },
};
