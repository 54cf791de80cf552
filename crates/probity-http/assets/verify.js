// The auditor's export check: the chosen file is sent as it is to POST /api/verify with the
// pinned key, and the report is shown. The file is read by the browser and never kept by the
// server.
"use strict";

const say = (zh, en) => (window.PROBITY.lang === "en" ? en : zh);
const $ = (id) => document.getElementById(id);

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.append(td);
}

function show(report) {
  const out = $("verify-outcome");
  out.replaceChildren();
  const line = (text, tag = "p") => {
    const p = document.createElement(tag);
    p.textContent = text;
    out.append(p);
    return p;
  };
  const intact = report.findings.length === 0;
  out.className = intact ? "receipt" : "refusal";
  out.dataset.intact = String(intact);
  out.dataset.records = String(report.records);
  line(intact
    ? say(`完好：${report.records} 条记录，核对了 ${report.checkpoints_checked} 个检查点。`, `Intact: ${report.records} records, ${report.checkpoints_checked} checkpoints checked.`)
    : say(`发现 ${report.findings.length} 个问题（共 ${report.records} 条记录）。`, `${report.findings.length} findings (${report.records} records).`), "strong");
  line(say(`默克尔根 ${report.root}`, `Merkle root ${report.root}`));
  line(report.key_pinned
    ? say("检查点已对照您固定的账本公钥核对。", "Checkpoints were checked against the ledger key you pinned.")
    : say("未固定公钥：只证明文件自洽，不证明是哪家医院的账本。", "No key pinned: this shows the file agrees with itself, not whose ledger it is."));
  if (report.witnessed) {
    const names = report.witnessed.witnesses.map((w) => w.name).join("、");
    line(say(`检查点 ${report.witnessed.size} 已由见证人副署：${names}。`, `Checkpoint ${report.witnessed.size} was cosigned by the witnesses: ${names}.`));
  }
  if (report.unanchored) {
    line(say(`记录 ${report.unanchored.from}–${report.unanchored.to} 在最后一个检查点之后（已接受）。`, `Records ${report.unanchored.from}–${report.unanchored.to} are past the last checkpoint (accepted).`));
  }
  if (!intact) {
    const table = document.createElement("table");
    table.className = "findings";
    const head = table.createTHead().insertRow();
    for (const h of [say("代码", "Code"), say("记录", "Record"), say("说明", "What was found")]) {
      const th = document.createElement("th");
      th.textContent = h;
      head.append(th);
    }
    const body = table.createTBody();
    for (const f of report.findings) {
      const row = body.insertRow();
      row.dataset.code = f.code;
      cell(row, f.code);
      cell(row, String(f.seq));
      cell(row, f.message);
    }
    out.append(table);
  }
}

async function verify(event) {
  event.preventDefault();
  const out = $("verify-outcome");
  out.className = "";
  out.textContent = say("核验中……", "Verifying…");
  const file = $("verify-file").files[0];
  const query = new URLSearchParams();
  const vkey = $("verify-vkey").value.trim();
  if (vkey) query.set("ledger_vkey", vkey);
  for (const witness of $("verify-witnesses").value.split("\n").map((w) => w.trim()).filter(Boolean)) {
    query.append("witness", witness);
  }
  const quorum = $("verify-quorum").value.trim();
  if (quorum && quorum !== "0") query.set("quorum", quorum);
  if ($("verify-unanchored").checked) query.set("allow_unanchored", "true");
  try {
    const response = await fetch(`/api/verify?${query}`, { method: "POST", credentials: "same-origin", body: file });
    const reply = await response.json();
    if (reply.error) throw new Error(`${reply.error.code}: ${reply.error.message}`);
    show(reply.ok);
  } catch (e) {
    out.className = "refusal";
    out.dataset.intact = "";
    out.textContent = say("无法核验：", "Could not verify: ") + e.message;
  }
}

$("verify-form").addEventListener("submit", verify);
document.body.dataset.ready = "true";
