// The chat simulator: every action becomes a conversation-fixture turn posted to /simulator/api/send,
// which signs (and encrypts) it like WeChat and runs it through the real webhook.
"use strict";

const base = location.pathname.replace(/\/$/, "");
const $ = (id) => document.getElementById(id);
let openid = localStorage.getItem("yjy-sim-openid") || newOpenid();

function newOpenid() {
  const hex = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
  const id = "oSIM" + hex;
  localStorage.setItem("yjy-sim-openid", id);
  return id;
}

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}

// Text replies may carry <a href="http..."> links (WeChat shows them); everything else stays text.
function linkify(text) {
  return escapeHtml(text).replace(/&lt;a href=&quot;(https?:\/\/[^&"]+)&quot;&gt;(.*?)&lt;\/a&gt;/g,
    (_, url, label) => `<a href="${url}" target="_blank" rel="noopener">${label}</a>`);
}

function row(who, content) {
  const div = document.createElement("div");
  div.className = "row " + who;
  div.innerHTML = `<div class="avatar">${who === "me" ? "我" : "游"}</div>`;
  div.appendChild(content);
  $("log").appendChild(div);
  $("log").scrollTop = $("log").scrollHeight;
  return div;
}

function bubble(who, html, testid) {
  const b = document.createElement("div");
  b.className = "bubble";
  b.innerHTML = html;
  if (testid) b.dataset.testid = testid;
  return row(who, b);
}

function system(text) {
  const div = document.createElement("div");
  div.className = "system";
  div.textContent = text;
  $("log").appendChild(div);
  $("log").scrollTop = $("log").scrollHeight;
}

function newsCard(articles, who = "bot") {
  const card = document.createElement("div");
  card.className = "news";
  card.dataset.testid = "news";
  articles.forEach((a, i) => {
    const link = document.createElement("a");
    link.href = a.url || "#";
    link.target = "_blank";
    link.rel = "noopener";
    const pic = a.picurl ? `<img src="${escapeHtml(a.picurl)}" alt="">` : "";
    if (i === 0) {
      link.innerHTML = `<div class="title">${escapeHtml(a.title)}</div>${pic}` +
        `<div class="desc">${escapeHtml(a.description || "")}</div>`;
    } else {
      link.className = "more";
      link.innerHTML = `<div style="flex:1">${escapeHtml(a.title)}</div>${pic}`;
    }
    card.appendChild(link);
  });
  return row(who, card);
}

function wire(result) {
  const div = document.createElement("div");
  div.className = "wire";
  div.textContent = `HTTP ${result.status} · ${result.ms} ms${result.encrypted ? " · 加密" : ""}`;
  $("log").appendChild(div);
}

function showReply(result) {
  if (result.kind === "text") bubble("bot", linkify(result.text), "reply");
  else if (result.kind === "news") newsCard(result.articles);
  else if (result.kind === "none") system("（公众号没有回复：success）");
  else if (result.kind === "error") system(`webhook 返回 HTTP ${result.status}：${result.text}`);
  else system(`（${result.kind} 消息）`);
  if (result.status) wire(result);
}

async function post(path, body) {
  const response = await fetch(base + path, {method: "POST", headers: {"Content-Type": "application/json"},
                                             body: JSON.stringify(body)});
  const data = await response.json().catch(() => ({error: `HTTP ${response.status}`}));
  return {ok: response.ok, data};
}

async function send(turn, echo) {
  if (echo) echo();
  const {ok, data} = await post("/api/send", {openid, send: turn});
  if (!ok) system("发送失败：" + (data.error || "未知错误"));
  else showReply(data);
}

function sendText() {
  const text = $("text").value.trim();
  if (!text) return;
  $("text").value = "";
  send({text}, () => bubble("me", escapeHtml(text)));
}

function sendLocation(lat, lng, label) {
  send({location: {lat, lng, label}}, () => bubble("me", `📍 ${escapeHtml(label || `${lat}, ${lng}`)}`));
}

function buildMenu(menu) {
  const bar = $("menubar");
  bar.innerHTML = "";
  (menu.button || []).forEach((top) => {
    const btn = document.createElement("button");
    btn.textContent = (top.sub_button ? "≡ " : "") + top.name;
    bar.appendChild(btn);
    if (!top.sub_button) {
      btn.onclick = () => press(top);
      return;
    }
    const sub = document.createElement("div");
    sub.className = "submenu";
    top.sub_button.forEach((item) => {
      const b = document.createElement("button");
      b.textContent = item.name;
      b.onclick = () => { sub.classList.remove("open"); press(item); };
      sub.appendChild(b);
    });
    bar.appendChild(sub);
    btn.onclick = () => {
      document.querySelectorAll(".submenu.open").forEach((s) => s !== sub && s.classList.remove("open"));
      sub.style.left = btn.offsetLeft + "px";
      sub.classList.toggle("open");
    };
  });
}

function press(item) {
  if (item.type === "click") {
    send({click: item.key}, () => system(`点击菜单「${item.name}」`));
  } else if (item.type === "view") {
    send({event: "VIEW", key: item.url}, () => system(`打开网页「${item.name}」`));
    window.open(item.url, "_blank", "noopener");
  } else if (item.type === "location_select") {
    $("panel").classList.add("open");
    system(`「${item.name}」：在上方选择一个位置发送`);
    pendingLocationKey = item.key;
  }
}

let pendingLocationKey = null;

function sendPreset(p) {
  if (pendingLocationKey) {  // WeChat's location picker answers with a location_select event
    const key = pendingLocationKey;
    pendingLocationKey = null;
    send({event: "location_select", key, lat: p.lat, lng: p.lng, label: p.name},
         () => bubble("me", `📍 ${escapeHtml(p.name)}`));
  } else {
    sendLocation(p.lat, p.lng, p.name);
  }
}

async function setup() {
  $("who").textContent = openid.slice(0, 10) + "…";
  const response = await fetch(base + "/api/setup");
  const data = await response.json();
  buildMenu(data.menu);
  data.presets.forEach((p) => {
    const b = document.createElement("button");
    b.textContent = p.name;
    b.onclick = () => sendPreset(p);
    $("presets").appendChild(b);
  });
  data.scenes.forEach((s) => $("scene").add(new Option(s, s)));
  const examples = $("broadcast-example");
  data.broadcasts.forEach((b) => examples.add(new Option(b.file, b.yaml)));
  examples.onchange = () => { if (examples.value) $("broadcast").value = examples.value; };
  system("模拟器已连接：像在微信里一样聊天吧");
}

async function previewBroadcast() {
  const out = $("preview-out");
  out.innerHTML = "";
  const {ok, data} = await post("/api/broadcast-preview", {yaml: $("broadcast").value});
  if (!ok) {
    out.innerHTML = `<div class="err" data-testid="preview-error">${escapeHtml(
      (data.line ? `第 ${data.line} 行：` : "") + (data.error || "预览失败"))}</div>`;
    return;
  }
  out.innerHTML = `<div data-testid="preview-summary">「${escapeHtml(data.name)}」将发给 ${data.audience} 位关注者` +
    `（${escapeHtml(data.mode)}）。下面是他们在聊天里看到的样子：</div>`;
  data.messages.forEach((m) => {
    system(`群发预览（${m.lang}）`);
    if (m.kind === "news") newsCard(m.articles);
    else bubble("bot", linkify(m.text), "reply");
  });
}

$("send").onclick = sendText;
$("text").addEventListener("keydown", (e) => { if (e.key === "Enter") sendText(); });
$("plus").onclick = () => $("panel").classList.toggle("open");
$("send-latlng").onclick = () => sendLocation(parseFloat($("lat").value), parseFloat($("lng").value), "");
$("subscribe").onclick = () => {
  const scene = $("scene").value;
  send(scene ? {event: "subscribe", scene} : {event: "subscribe"},
       () => system(scene ? `扫描活动二维码（${scene}）关注` : "关注了公众号"));
};
$("unsubscribe").onclick = () => send({event: "unsubscribe"}, () => system("取消了关注"));
$("send-image").onclick = () => send({image: "https://example.com/photo.jpg"}, () => bubble("me", "🖼 [图片]"));
$("new-user").onclick = () => {
  openid = newOpenid();
  $("log").innerHTML = "";
  $("who").textContent = openid.slice(0, 10) + "…";
  system("换了一个新用户：" + openid);
};
$("preview").onclick = previewBroadcast;
setup();
