/* The map portal (数据服务门户): plain JavaScript over the vendored MapLibre GL JS.
 *
 * Everything is read through the service's API with the caller's key, sent as
 * `Authorization: Bearer` on every request (fetch and MapLibre's transformRequest for tiles,
 * styles, glyphs and sprites).  The key lives in sessionStorage only (this tab).
 *
 *   /map/api/session            who the key is; the layers it may see, with `readable`
 *   /collections                the layers listed to the caller (intersected with the above)
 *   /collections/catalogue/items  the resource catalogue (OGC API - Records: q, category,
 *                               department_code)
 *   /collections/{id}/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt   the layers, as vector tiles
 *   /collections/{id}/legend    the classes of a thematic layer (only layers that have one)
 *   /geocode?q=&crs=EPSG:4490   address search;  /basemaps/...  the two basemaps
 */
(function () {
  "use strict";

  var BASE = document.body.getAttribute("data-base") || window.location.origin;
  var KEY_STORE = "spatialsvc.portal.key";
  var PHONE_WIDTH = 700;
  var CENTER = [121.47, 29.86];
  var LEVELS = {
    room: "户室", building: "楼幢", door: "门牌", interpolated: "门牌（插值）",
    road: "道路", compound: "小区", community: "社区", township: "街道（乡镇）",
    county: "区县", city: "城市"
  };
  var LEVEL_ZOOM = {room: 17, building: 17, door: 16, interpolated: 16, road: 15, compound: 16,
    community: 14, township: 13, county: 11, city: 10};
  var ROLES = {admin: "平台管理员", publisher: "发布部门", consumer: "使用部门"};
  var SHARING = {open: "开放", unconditional: "无条件共享", conditional: "有条件共享", none: "不予共享"};

  var state = {
    key: sessionStorage.getItem(KEY_STORE),
    session: null,
    layers: [],          // readable layers, in /collections order
    byId: {},
    enabled: {},         // layer id -> true
    legends: {},         // layer id -> legend document (or null: default style)
    basemap: "vector",
    vectorStyle: null,
    ready: false
  };
  var map = null;
  var marker = null;
  var popup = null;

  // -- helpers ----------------------------------------------------------------------------

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else if (k === "class") {
        node.className = attrs[k];
      } else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }

  function ours(url) { return url.indexOf(BASE + "/") === 0; }

  function authHeaders() {
    return state.key ? {Authorization: "Bearer " + state.key} : {};
  }

  function query(params) {
    var parts = [];
    Object.keys(params || {}).forEach(function (k) {
      var v = params[k];
      if (v !== undefined && v !== null && v !== "") {
        parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(v));
      }
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  /** GET a JSON document of the API with the caller's key; rejects with the service's text. */
  function api(path, params, key) {
    var headers = key === undefined ? authHeaders() : (key ? {Authorization: "Bearer " + key} : {});
    return fetch(BASE + path + query(params), {headers: headers}).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) {
          var err = new Error(body.description || ("HTTP " + r.status));
          err.status = r.status;
          throw err;
        }
        return body;
      });
    });
  }

  function status(id, text) { $(id).textContent = text || ""; }

  // -- the session and the layers ---------------------------------------------------------

  function loadSession() {
    return Promise.all([api("/map/api/session"), api("/collections", {f: "json"})])
      .then(applySession, function (e) {
        if (e.status === 401 && state.key) {  // a stored key that no longer works
          sessionStorage.removeItem(KEY_STORE);
          state.key = null;
          status("account-msg", "密钥已失效，请重新登录：" + e.message);
          return loadSession();
        }
        throw e;
      });
  }

  function applySession(answers) {
    var session = answers[0];
    var listed = {};
    (answers[1].collections || []).forEach(function (c, i) { listed[c.id] = i; });
    var layers = (session.layers || []).filter(function (l) {
      return l.readable && listed[l.id] !== undefined;
    });
    layers.sort(function (a, b) { return listed[a.id] - listed[b.id]; });
    state.session = session;
    state.layers = layers;
    state.byId = {};
    layers.forEach(function (l) { state.byId[l.id] = l; });
    Object.keys(state.enabled).forEach(function (id) {
      if (!state.byId[id]) { delete state.enabled[id]; }
    });
    return Promise.all(layers.map(loadLegend));
  }

  function loadLegend(layer) {
    if (state.legends[layer.id] !== undefined) { return Promise.resolve(); }
    if (!layer.legend) {  // no thematic style, or no legend route to ask
      state.legends[layer.id] = null;
      return Promise.resolve();
    }
    return api(layer.legend, {f: "json"})
      .then(function (doc) {
        state.legends[layer.id] = doc && doc.classes && doc.classes.length ? doc : null;
      })
      .catch(function () { state.legends[layer.id] = null; });  // the layer's own style
  }

  function renderAccount() {
    var s = state.session || {};
    $("signed-out").hidden = !!s.signed_in;
    $("signed-in").hidden = !s.signed_in;
    if (s.signed_in) {
      $("who").textContent = (s.department_name || s.department) + "（" +
        (ROLES[s.role] || s.role) + "，密钥 " + (s.key_id || "—") + "）";
    }
  }

  function swatch(layer, color) {
    var g = layer.geometry_type;
    var kind = g.indexOf("Point") >= 0 ? "point" : (g.indexOf("Line") >= 0 ? "line" : "fill");
    var node = el("span", {"class": "swatch " + kind});
    node.style.background = color || layer.style.fill;
    if (kind !== "line") { node.style.borderColor = layer.style.stroke; }
    if (kind === "line") { node.style.background = layer.style.stroke; }
    return node;
  }

  function legendNode(layer) {
    var legend = state.legends[layer.id];
    var box = el("div", {"class": "legend", "data-layer": layer.id});
    if (legend) {
      box.appendChild(el("div", {text: legend.title || layer.thematic[0].title || legend.field}));
      var rows = legend.classes.slice();
      if (legend.no_data && legend.no_data.color) { rows.push(legend.no_data); }
      rows.forEach(function (c) {
        var label = (c.label || "") + (c.count !== undefined ? "（" + c.count + "）" : "");
        box.appendChild(el("div", {"class": "row"}, [swatch(layer, c.color), el("span", {text: label})]));
      });
    } else {
      box.appendChild(el("div", {"class": "row"}, [swatch(layer), el("span", {text: layer.title})]));
    }
    return box;
  }

  function renderLayers() {
    var list = $("layer-list");
    list.textContent = "";
    if (!state.layers.length) {
      list.appendChild(el("li", {"class": "hint", text: "没有可显示的图层"}));
    }
    state.layers.forEach(function (layer) {
      var box = el("input", {type: "checkbox", "data-layer": layer.id, id: "layer-" + layer.id});
      box.checked = !!state.enabled[layer.id];
      box.addEventListener("change", function () { toggleLayer(layer.id, box.checked); });
      var meta = layer.category + " · " + (SHARING[layer.sharing] || layer.sharing) + " · " +
        layer.department + (layer.masked_fields.length ? " · 脱敏字段：" + layer.masked_fields.join("、") : "");
      var label = el("label", {"for": "layer-" + layer.id}, [box, document.createTextNode(" " + layer.title)]);
      var item = el("li", {"data-layer": layer.id}, [label, el("div", {"class": "meta", text: meta})]);
      if (state.enabled[layer.id]) { item.appendChild(legendNode(layer)); }
      list.appendChild(item);
    });
  }

  function toggleLayer(id, on) {
    if (on) { state.enabled[id] = true; } else { delete state.enabled[id]; }
    renderLayers();
    applyStyle(false);
  }

  // -- the map's style: a basemap and the layers switched on -------------------------------

  function tileUrl(id) {
    return BASE + "/collections/" + encodeURIComponent(id) + "/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt";
  }

  function rasterBasemap() {
    return {
      version: 8,
      name: "地形晕渲底图",
      sources: {
        relief: {
          type: "raster", tileSize: 256, minzoom: 0, maxzoom: 16,
          tiles: [BASE + "/basemaps/raster/tiles/{z}/{x}/{y}.png"],
          attribution: "示范生成的地形晕渲（非测绘成果）"
        }
      },
      layers: [
        {id: "background", type: "background", paint: {"background-color": "#eef0f2"}},
        {id: "relief", type: "raster", source: "relief", paint: {"raster-fade-duration": 0}}
      ]
    };
  }

  /** The vector basemap without the sources (and their style layers) the caller may not read. */
  function vectorBasemap() {
    var style = JSON.parse(JSON.stringify(state.vectorStyle));
    var dropped = {};
    Object.keys(style.sources).forEach(function (name) {
      if (style.sources[name].type === "vector" && !state.byId[name]) {
        dropped[name] = true;
        delete style.sources[name];
      }
    });
    style.layers = style.layers.filter(function (l) { return !dropped[l.source]; });
    return style;
  }

  /** A thematic layer's colour: classes are (lower, upper], the first [lower, upper]. */
  function colourOf(layer) {
    var legend = state.legends[layer.id];
    if (!legend) { return layer.style.fill; }
    var value = ["to-number", ["get", legend.field], 0];
    var noData = (legend.no_data && legend.no_data.color) || "#d9d9d9";
    var expr = ["case", ["==", ["get", legend.field], null], noData];
    legend.classes.slice(0, -1).forEach(function (c) { expr.push(["<=", value, c.upper], c.color); });
    expr.push(legend.classes[legend.classes.length - 1].color);
    return expr;
  }

  function overlay(layer) {
    var src = "ov-" + layer.id;
    var g = layer.geometry_type;
    var s = layer.style;
    var common = {source: src, "source-layer": layer.id, metadata: {"spatialsvc:layer": layer.id}};
    function with_(extra) { return Object.assign({}, common, extra); }
    if (g.indexOf("Point") >= 0) {
      return [with_({id: src + "-circle", type: "circle", paint: {
        "circle-color": colourOf(layer), "circle-radius": s.radius, "circle-opacity": s.opacity,
        "circle-stroke-color": s.stroke, "circle-stroke-width": s.width}})];
    }
    if (g.indexOf("Line") >= 0) {
      return [with_({id: src + "-line", type: "line", paint: {
        "line-color": state.legends[layer.id] ? colourOf(layer) : s.stroke,
        "line-width": Math.max(s.width, 1), "line-opacity": Math.max(s.opacity, 0.6)}})];
    }
    return [
      with_({id: src + "-fill", type: "fill", paint: {
        "fill-color": colourOf(layer), "fill-opacity": state.legends[layer.id] ? 0.75 : s.opacity}}),
      with_({id: src + "-line", type: "line", paint: {"line-color": s.stroke, "line-width": s.width}})
    ];
  }

  function buildStyle() {
    var style = state.basemap === "vector" && state.vectorStyle ? vectorBasemap() : rasterBasemap();
    state.layers.forEach(function (layer) {
      if (!state.enabled[layer.id]) { return; }
      style.sources["ov-" + layer.id] = {
        type: "vector", tiles: [tileUrl(layer.id)], minzoom: layer.minzoom, maxzoom: layer.maxzoom
      };
      overlay(layer).forEach(function (l) { style.layers.push(l); });
    });
    return style;
  }

  function loadVectorStyle() {
    if (state.vectorStyle) { return Promise.resolve(); }
    return api("/basemaps/vector/style.json").then(function (s) { state.vectorStyle = s; });
  }

  /** Draw the current style; `fresh` re-reads every tile (the key changed). */
  function applyStyle(fresh) {
    if (!map) { return; }
    map.setStyle(buildStyle(), {diff: !fresh});
  }

  // -- the catalogue ----------------------------------------------------------------------

  function fillFilters(records) {
    var cats = {}, depts = {};
    records.forEach(function (r) {
      var p = r.properties || {};
      if (p.category) { cats[p.category] = true; }
      if (p.department_code) { depts[p.department_code] = p.department_name || p.department_code; }
    });
    function fill(select, entries, first) {
      var keep = select.value;
      select.textContent = "";
      select.appendChild(el("option", {value: "", text: first}));
      entries.forEach(function (e) { select.appendChild(el("option", {value: e[0], text: e[1]})); });
      select.value = entries.some(function (e) { return e[0] === keep; }) ? keep : "";
    }
    fill($("catalogue-category"), Object.keys(cats).sort().map(function (c) { return [c, c]; }), "全部分类");
    fill($("catalogue-department"), Object.keys(depts).sort().map(function (d) { return [d, depts[d]]; }), "全部部门");
  }

  function renderRecords(records) {
    var list = $("catalogue-list");
    list.textContent = "";
    status("catalogue-count", "共 " + records.length + " 条资源");
    records.forEach(function (r) {
      var p = r.properties || {};
      var tags = el("div", {}, [
        el("span", {"class": "tag", text: p.category || "其他"}),
        el("span", {"class": "tag " + (p.sharing || ""), text: p.sharing_attribute || SHARING[p.sharing] || ""}),
        el("span", {"class": "tag", text: p.open_attribute || ""})
      ]);
      var item = el("li", {"data-record": r.id}, [
        el("div", {"class": "title", text: p.title || r.id}),
        tags,
        el("div", {"class": "meta", text: (p.department_name || "") + (p.update_cycle ? " · 更新：" + p.update_cycle : "")})
      ]);
      var layer = state.byId[r.id];
      if (layer) {
        var show = el("button", {type: "button", text: state.enabled[r.id] ? "隐藏图层" : "显示图层"});
        show.addEventListener("click", function () {
          toggleLayer(r.id, !state.enabled[r.id]);
          renderRecords(records);
        });
        item.appendChild(show);
      } else if ((state.session.layers || []).some(function (l) { return l.id === r.id; })) {
        item.appendChild(el("div", {"class": "hint", text: "需经申请批准后方可查看数据"}));
      }
      list.appendChild(item);
    });
  }

  function searchCatalogue(fillSelects) {
    var params = {f: "json", limit: 200, q: $("catalogue-q").value.trim(),
      category: $("catalogue-category").value, department_code: $("catalogue-department").value};
    status("catalogue-count", "正在检索…");
    return api("/collections/catalogue/items", params).then(function (doc) {
      var records = doc.features || [];
      if (fillSelects) { fillFilters(records); }
      renderRecords(records);
    }).catch(function (e) { status("catalogue-count", "检索失败：" + e.message); });
  }

  // -- address search ---------------------------------------------------------------------

  function geocode(text) {
    var box = $("geocode-result");
    box.hidden = false;
    box.textContent = "正在查找…";
    var addresses = state.byId.standard_address;
    if (!addresses) {
      box.textContent = "地址搜索使用标准地址库（部门共享数据）：请先用部门 API 密钥登录。";
      return Promise.resolve();
    }
    return api("/geocode", {q: text, crs: "EPSG:4490"}).then(function (a) {
      box.textContent = "";
      if (a.lon === null || a.lon === undefined) {
        box.appendChild(el("div", {text: "未找到地址：" + text}));
        return;
      }
      var level = LEVELS[a.match_level] || a.match_level;
      box.appendChild(el("div", {"class": "address", text: a.full_address || text}));
      box.appendChild(el("div", {}, [
        el("span", {text: "匹配级别："}),
        el("span", {"class": "level", "data-level": a.match_level, text: level + "（" + a.match_level + "）"}),
        el("span", {text: " · 得分 "}),
        el("span", {"class": "score", text: Number(a.score).toFixed(2)})
      ]));
      box.appendChild(el("div", {"class": "hint",
        text: "CGCS2000 " + a.lon.toFixed(6) + ", " + a.lat.toFixed(6)}));
      if (marker) { marker.remove(); }
      marker = new maplibregl.Marker({color: "#d9534f"}).setLngLat([a.lon, a.lat]).addTo(map);
      map.flyTo({center: [a.lon, a.lat], zoom: LEVEL_ZOOM[a.match_level] || 16, speed: 2, maxDuration: 3000, essential: true});
    }).catch(function (e) { box.textContent = "查找失败：" + e.message; });
  }

  // -- identify ---------------------------------------------------------------------------

  function identify(e) {
    var features = map.queryRenderedFeatures(e.point).filter(function (f) {
      return f.sourceLayer && (state.byId[f.sourceLayer]);
    });
    var seen = {}, shown = [];
    features.forEach(function (f) {
      var k = f.sourceLayer + "/" + (f.id !== undefined ? f.id : JSON.stringify(f.properties));
      if (!seen[k] && shown.length < 3) { seen[k] = true; shown.push(f); }
    });
    if (!shown.length) { return; }
    var box = el("div", {"class": "identify"});
    shown.forEach(function (f) {
      var layer = state.byId[f.sourceLayer];
      box.appendChild(el("h3", {text: layer.title}));
      var table = el("table");
      Object.keys(f.properties).forEach(function (k) {
        table.appendChild(el("tr", {}, [el("td", {text: k}), el("td", {text: String(f.properties[k])})]));
      });
      box.appendChild(table);
    });
    if (popup) { popup.remove(); }
    popup = new maplibregl.Popup({maxWidth: "320px"}).setLngLat(e.lngLat).setDOMContent(box).addTo(map);
  }

  // -- coordinates ------------------------------------------------------------------------

  function showCoords(lngLat) {
    // The map's lon/lat are WGS84; CGCS2000 (EPSG:4490) differs from WGS84 by centimetres,
    // below what is shown here, so they are shown as CGCS2000 directly.
    var g = window.spatialsvcGcj02.wgs84ToGcj02(lngLat.lng, lngLat.lat);
    $("coord-cgcs").textContent = lngLat.lng.toFixed(6) + ", " + lngLat.lat.toFixed(6);
    $("coord-gcj").textContent = g[0].toFixed(6) + ", " + g[1].toFixed(6);
  }

  // -- the panel, sign-in, start ----------------------------------------------------------

  function setPanel(open) {
    document.body.classList.toggle("panel-collapsed", !open);
    $("panel-toggle").setAttribute("aria-expanded", open ? "true" : "false");
    if (map) { map.resize(); }
  }

  function refresh(fresh) {
    return loadSession().then(function () {
      renderAccount();
      renderLayers();
      applyStyle(fresh);
      return searchCatalogue(true);
    });
  }

  function signIn(key) {
    status("account-msg", "正在登录…");
    return api("/map/api/session", {}, key).then(function () {
      state.key = key;
      sessionStorage.setItem(KEY_STORE, key);
      $("api-key").value = "";
      status("account-msg", "");
      return refresh(true);
    }).catch(function (e) { status("account-msg", "登录失败：" + e.message); });
  }

  function signOut() {
    state.key = null;
    sessionStorage.removeItem(KEY_STORE);
    status("account-msg", "已退出登录");
    return refresh(true);
  }

  function bind() {
    $("panel-toggle").addEventListener("click", function () {
      setPanel(document.body.classList.contains("panel-collapsed"));
    });
    $("signin-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var key = $("api-key").value.trim();
      if (key) { signIn(key); }
    });
    $("signout").addEventListener("click", signOut);
    $("geocode-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var q = $("geocode-q").value.trim();
      if (q) { geocode(q); }
    });
    $("catalogue-form").addEventListener("submit", function (e) {
      e.preventDefault();
      searchCatalogue(false);
    });
    ["catalogue-category", "catalogue-department"].forEach(function (id) {
      $(id).addEventListener("change", function () { searchCatalogue(false); });
    });
    document.querySelectorAll("input[name=basemap]").forEach(function (input) {
      input.addEventListener("change", function () {
        if (input.checked) { state.basemap = input.value; applyStyle(false); }
      });
    });
  }

  function start() {
    setPanel(window.innerWidth > PHONE_WIDTH);
    bind();
    var ready = Promise.all([loadVectorStyle(), loadSession()]).then(function () {
      renderAccount();
      renderLayers();
      map = new maplibregl.Map({
        container: "map",
        style: buildStyle(),
        center: CENTER,
        zoom: 11,
        maxZoom: 18,
        attributionControl: {compact: true},
        transformRequest: function (url) {
          return ours(url) ? {url: url, headers: authHeaders()} : {url: url};
        }
      });
      map.addControl(new maplibregl.NavigationControl({}), "top-right");
      map.addControl(new maplibregl.ScaleControl({unit: "metric"}), "bottom-right");
      map.on("mousemove", function (e) { showCoords(e.lngLat); });
      map.on("click", identify);
      map.on("error", function (e) {  // shown, not thrown: a missing tile must not stop the map
        var msg = e && e.error && e.error.message ? e.error.message : "地图加载出错";
        status("account-msg", msg);
        console.warn("map:", msg);
      });
      showCoords(map.getCenter());
      return Promise.all([
        new Promise(function (resolve) { map.once("load", resolve); }),
        searchCatalogue(true)
      ]);
    }).then(function () { state.ready = true; });
    window.spatialsvcPortal = {
      state: state, ready: ready,
      map: function () { return map; },
      signIn: signIn, signOut: signOut, geocode: geocode, toggleLayer: toggleLayer
    };
    ready.catch(function (e) { status("account-msg", "门户加载失败：" + e.message); });
  }

  start();
})();
