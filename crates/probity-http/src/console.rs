//! The web console: server-rendered pages (Chinese first, English on request) with a little
//! JavaScript for signing in the browser (`assets/console.js`). Pages read the same views as
//! the API; times are in the hospital's zone to the second, amounts with separators and 万元.

use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use probity_core::ids::Seq;
use probity_projector::{render, Finding, Projection, Review};
use probity_views::query::FindingAnswer;
use probity_wire::ErrorCode;
use serde::Deserialize;

use crate::api::{authorize, blocking, case_lines, key_lines};
use crate::auth::Access;
use crate::display::{self, Lang};
use crate::error::ApiError;
use crate::App;

type AppState = State<Arc<App>>;
type Params = Query<Vec<(String, String)>>;

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(blacklist_page))
        .route("/findings", get(findings_page))
        .route("/records/{seq}", get(record_page))
        .route("/suppliers/{id}", get(supplier_page))
        .route("/cases", get(cases_page))
        .route("/cases/{id}", get(case_page))
        .route("/reps/{id}", get(rep_page))
        .route("/staff/{id}", get(staff_page))
        .route("/visits", get(visits_page))
        .route("/replay", get(replay_page))
        .route("/search", get(search))
        .route("/ledger", get(ledger_page))
        .route("/record", get(record_form_page))
        .route("/verify", get(verify_page))
        .route("/assets/verify.js", get(verify_script))
        .route("/login", get(login_page).post(login))
        .route("/logout", get(logout))
        .route("/lang/{lang}", get(set_lang))
        .route("/assets/console.js", get(script))
        .route("/assets/console.css", get(style))
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// A page's frame: navigation, the zone times are shown in, the language switch.
fn page(app: &App, lang: Lang, title: &str, body: Markup) -> Markup {
    let t = |zh, en| lang.pick(zh, en);
    html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Probity" }
                link rel="stylesheet" href="/assets/console.css";
            }
            body {
                header {
                    nav {
                        strong { "Probity · " (app.ledger.ledger_id()) }
                        a href="/" { (t("黑名单", "Blacklist")) }
                        a href="/findings" { (t("风险提示", "Findings")) }
                        a href="/cases" { (t("采购案件", "Purchase cases")) }
                        a href="/visits" { (t("代表来访", "Rep visits")) }
                        a href="/record" { (t("登记事件", "Record an event")) }
                        a href="/replay" { (t("回溯", "Replay")) }
                        a href="/ledger" { (t("账本与证明", "Ledger and proofs")) }
                        form.search action="/search" method="get" {
                            input type="search" name="q" placeholder=(t("统一社会信用代码、备案号、案件号", "USCC, filing number, case id"));
                        }
                        span.right {
                            (t("时区", "Time zone")) " UTC" (display::offset_text(app.config.offset)) " · "
                            @match lang {
                                Lang::Zh => a href="/lang/en" { "English" },
                                Lang::En => a href="/lang/zh" { "中文" },
                            }
                            " · " a href="/login" { (t("登录", "Sign in")) }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// A page, or the reason it cannot be shown, as a page.
fn shown(app: &App, lang: Lang, result: Result<(String, Markup), ApiError>) -> Response {
    match result {
        Ok((title, body)) => page(app, lang, &title, body).into_response(),
        Err(ApiError(e)) => {
            let status = crate::error::status_of(&e.code);
            let hint = match e.code {
                ErrorCode::Unauthenticated | ErrorCode::Forbidden => html! {
                    p { a href="/login" { (lang.pick("用有权限的令牌登录", "Sign in with a token that may see this")) } }
                },
                _ => html! {},
            };
            let body = html! { p.error { code { (e.code) } " " (e.message) } (hint) };
            let title = lang.pick("无法显示", "Cannot show this");
            (status, page(app, lang, title, body)).into_response()
        }
    }
}

fn when(app: &App, micros: i64) -> String {
    display::local(micros, app.config.offset)
}

fn record_link(seq: Seq) -> Markup {
    html! { a href={ "/records/" (seq) } { "#" (seq) } }
}

/// A `kind:id` subject as a link to its page.
fn subject_link(subject: &str) -> Markup {
    let href = match subject.split_once(':') {
        Some(("supplier", id)) => Some(format!("/suppliers/{id}")),
        Some(("case", id)) => Some(format!("/cases/{id}")),
        Some(("rep", id)) => Some(format!("/reps/{id}")),
        Some(("staff", id)) => Some(format!("/staff/{id}")),
        _ => None,
    };
    match href {
        Some(href) => html! { a href=(href) { (subject) } },
        None => html! { (subject) },
    }
}

/// The instant a datetime-local field names, as RFC 3339 in the hospital's zone, or the error.
fn moment(app: &App, params: &[(String, String)], name: &str) -> Result<Option<i64>, ApiError> {
    let Some(text) = param(params, name) else {
        return Ok(None);
    };
    let rfc3339 = display::from_local_input(text, app.config.offset).unwrap_or_default();
    probity_core::time::OccurredAt::parse(&rfc3339)
        .or_else(|_| probity_core::time::OccurredAt::parse(text))
        .map(|t| Some(t.unix_micros()))
        .map_err(|e| ApiError::new(ErrorCode::BadTime, format!("{name}: {e}")))
}

async fn blacklist_page(
    State(app): AppState,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    let lang = Lang::choose(param(&params, "lang"), &headers);
    let result = async {
        authorize(&app, &headers, Access::Public)?;
        let now = probity_ledger::now().unix_micros();
        let at = moment(&app, &params, "at")?;
        let known_at = moment(&app, &params, "known_at")?;
        let reader = app.clone();
        let entries = blocking(move || {
            reader.with_views(|p| Ok(p.blacklist(at.unwrap_or(now), known_at.unwrap_or(now))))
        })
        .await?;
        let t = |zh, en| lang.pick(zh, en);
        let csv = format!(
            "/api/blacklist?format=csv{}{}",
            param(&params, "at").map(|_| format!("&at={}", urlencode_component(&rfc(&app, at.unwrap_or(now))))).unwrap_or_default(),
            param(&params, "known_at").map(|_| format!("&known_at={}", urlencode_component(&rfc(&app, known_at.unwrap_or(now))))).unwrap_or_default(),
        );
        let body = html! {
            p.lead { (t("整体禁止采购的供应商：“真实时点”为事实发生的时间，“知悉时点”为账本当时已记录的内容。", "Suppliers under a whole-firm ban. \"True at\" is when things happened; \"known at\" limits it to what the ledger held then.")) }
            form.moments method="get" action="/" {
                label { (t("真实时点", "True at")) " " input type="datetime-local" step="1" name="at" value=(param(&params, "at").unwrap_or("")); }
                label { (t("知悉时点", "Known at")) " " input type="datetime-local" step="1" name="known_at" value=(param(&params, "known_at").unwrap_or("")); }
                button type="submit" { (t("查询", "Show")) }
                " " a href=(csv) { (t("下载 CSV", "Download CSV")) }
            }
            p.as_of {
                (t("真实时点 ", "True at ")) (when(&app, at.unwrap_or(now)))
                (t("；知悉时点 ", "; known at ")) (when(&app, known_at.unwrap_or(now)))
                (t("；共 ", "; ")) (entries.len()) (t(" 家", " suppliers"))
            }
            @if entries.is_empty() {
                p #blacklist-empty { (t("此时点无被整体禁止的供应商。", "No supplier is banned at this moment.")) }
            } @else {
                table #blacklist {
                    thead { tr {
                        th { (t("统一社会信用代码", "USCC")) } th { (t("名称", "Name")) } th { (t("原因", "Reason")) }
                        th { (t("起", "From")) } th { (t("止", "Until")) } th { (t("决定记录", "Decision record")) }
                    } }
                    tbody {
                        @for e in &entries {
                            tr {
                                td { a href={ "/suppliers/" (e.uscc) } { (e.uscc) } }
                                td { (e.name.as_deref().unwrap_or("-")) }
                                td { (reason(lang, &e.reason)) }
                                td { (when(&app, e.from)) }
                                td { (e.until.map_or_else(|| t("另行通知", "further notice").to_owned(), |u| when(&app, u))) }
                                td { (record_link(e.seq)) }
                            }
                        }
                    }
                }
            }
        };
        Ok((t("黑名单", "Blacklist").to_owned(), body))
    }
    .await;
    shown(&app, lang, result)
}

fn rfc(app: &App, micros: i64) -> String {
    let local = display::local(micros, app.config.offset).replace(' ', "T");
    format!("{local}{}", display::offset_text(app.config.offset))
}

fn reason(lang: Lang, reason: &str) -> String {
    match (lang, reason) {
        (Lang::Zh, "blacklist") => "列入黑名单".into(),
        (Lang::Zh, "supplier_suspension") => "暂停供货资格".into(),
        (Lang::Zh, other) => format!("外部名单：{other}"),
        (Lang::En, "blacklist") => "blacklisted".into(),
        (Lang::En, "supplier_suspension") => "supplier suspended".into(),
        (Lang::En, other) => format!("external list: {other}"),
    }
}

fn severity(lang: Lang, f: &Finding) -> &'static str {
    match (format!("{:?}", f.severity).as_str(), lang) {
        ("High", Lang::Zh) => "高",
        ("Medium", Lang::Zh) => "中",
        ("Low", Lang::Zh) => "低",
        ("High", Lang::En) => "high",
        ("Medium", Lang::En) => "medium",
        _ => lang.pick("低", "low"),
    }
}

/// `list` with each finding's reviews.
fn reviewed(p: &Projection, list: impl IntoIterator<Item = Finding>) -> Vec<FindingAnswer> {
    list.into_iter()
        .map(|finding| FindingAnswer::reviewed(p, finding))
        .collect()
}

fn outcome(lang: Lang, r: &Review) -> &'static str {
    match (r.outcome.as_str(), lang) {
        ("confirmed", Lang::Zh) => "属实",
        ("explained", Lang::Zh) => "已说明",
        ("referred", Lang::Zh) => "已移送",
        ("confirmed", Lang::En) => "confirmed",
        ("explained", Lang::En) => "explained",
        _ => lang.pick("已移送", "referred"),
    }
}

fn findings_table(app: &App, lang: Lang, list: &[FindingAnswer]) -> Markup {
    let t = |zh, en| lang.pick(zh, en);
    html! {
        table.findings {
            thead { tr {
                th { (t("规则", "Rule")) } th { (t("等级", "Severity")) } th { (t("内容", "What")) }
                th { (t("发生时间", "Happened")) } th { (t("可发现时间", "Detectable at")) } th { (t("涉及", "Concerns")) } th { (t("证据记录", "Evidence")) }
                th { (t("审查", "Review")) }
            } }
            tbody {
                @for FindingAnswer { finding: f, reviews } in list {
                    tr.finding data-rule=(f.rule.code()) {
                        td { code { (f.rule.code()) } }
                        td { (severity(lang, f)) @if !f.knowable { br; small { (t("当时不可知", "not knowable then")) } } }
                        td { (f.summary) }
                        td { (when(app, f.occurred_at)) }
                        td { (when(app, f.detectable_at.unix_micros())) }
                        td { @for s in &f.subjects { (subject_link(s)) " " } }
                        td { @for seq in &f.evidence {
                            span.evidence { (record_link(*seq)) " "
                                a.bundle href={ "/api/records/" (seq) "/proof-bundle" } download { (t("证明包", "proof")) } }
                            " "
                        } }
                        td.reviews {
                            @for r in reviews {
                                div.review { (outcome(lang, r)) " · " (r.reviewer) " · " (when(app, r.occurred)) " " (record_link(r.seq)) br; small { (r.note) } }
                            }
                            a.review-link href={ "/record?type=integrity.finding_reviewed&payload.finding=" (urlencode_component(&f.id)) } { (t("记录审查结论", "Record a review")) }
                        }
                    }
                }
            }
        }
    }
}

/// `text` as a query-string value (`application/x-www-form-urlencoded`, as the pages' forms
/// and the console's script read it).
fn urlencode_component(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn findings_page(
    State(app): AppState,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    let lang = Lang::choose(param(&params, "lang"), &headers);
    let result = async {
        authorize(&app, &headers, Access::Oversight)?;
        let rule = param(&params, "rule").map(str::to_owned);
        let reader = app.clone();
        let selected = rule.clone();
        let list: Vec<FindingAnswer> = blocking(move || {
            reader.with_views(|p| {
                let chosen = p
                    .findings
                    .values()
                    .filter(|f| selected.as_deref().is_none_or(|r| f.rule.code() == r))
                    .cloned();
                Ok(reviewed(p, chosen))
            })
        })
        .await?;
        let t = |zh, en| lang.pick(zh, en);
        let body = html! {
            form method="get" action="/findings" {
                label { (t("规则", "Rule")) " "
                    select name="rule" {
                        option value="" { (t("全部", "all")) }
                        @for r in probity_projector::Rule::ALL {
                            option value=(r.code()) selected[rule.as_deref() == Some(r.code())] { (r.code()) }
                        }
                    }
                }
                " " button type="submit" { (t("筛选", "Filter")) }
                " " a href={ "/api/findings?format=csv" @if let Some(r) = &rule { "&rule=" (r) } } { (t("下载 CSV", "Download CSV")) }
            }
            p { (t("共 ", "")) (list.len()) (t(" 条", " findings")) }
            (findings_table(&app, lang, &list))
        };
        Ok((t("风险提示", "Findings").to_owned(), body))
    }
    .await;
    shown(&app, lang, result)
}

async fn record_page(
    State(app): AppState,
    headers: HeaderMap,
    Path(seq): Path<String>,
    Query(params): Params,
) -> Response {
    let lang = Lang::choose(param(&params, "lang"), &headers);
    let result = async {
        authorize(&app, &headers, Access::Oversight)?;
        let seq: u64 = seq
            .parse()
            .map_err(|_| ApiError::new(ErrorCode::BadRequest, format!("{seq:?} is not a record number")))?;
        let reader = app.clone();
        let (record, keys) = blocking(move || {
            let record = reader
                .ledger
                .record(Seq(seq))
                .map_err(|e| probity_wire::WireError::new(ErrorCode::Storage, e.to_string()))?
                .ok_or_else(|| probity_wire::WireError::new(ErrorCode::NotFound, format!("no record {seq}")))?;
            Ok((record, key_lines(&reader)?))
        })
        .await?;
        let t = |zh, en| lang.pick(zh, en);
        let opened = record.event.open().map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
        let body_json: serde_json::Value = serde_json::from_slice(record.event.body_bytes()).unwrap_or_default();
        let event = opened.body();
        let key_id = event.signer.key_id().to_string();
        let holder = keys.iter().find(|k| k.key_id == key_id);
        let pretty = serde_json::to_string_pretty(&body_json).unwrap_or_default();
        let body = html! {
            dl.record {
                dt { (t("记录号", "Record")) } dd { (seq) }
                dt { (t("事件类型", "Event type")) } dd { code { (event.event_type.as_str()) } }
                dt { (t("发生时间", "Occurred at")) } dd { (when(&app, event.occurred_at.unix_micros())) }
                dt { (t("入账时间", "Recorded at")) } dd { (when(&app, record.recorded_at.unix_micros())) }
                dt { (t("签名人", "Signed by")) } dd {
                    @if let Some(k) = holder { (k.holder) " (" (k.role) ") " }
                    code { (key_id) }
                }
                dt { (t("记录哈希", "Record hash")) } dd { code { (record.hash) } }
            }
            p { a.button #proof-bundle href={ "/api/records/" (seq) "/proof-bundle" } download { (t("下载证明包（probity verify-proof 可离线验证）", "Download the proof bundle (probity verify-proof checks it offline)")) } }
            h2 { (t("签名内容", "Signed content")) }
            pre.json { (pretty) }
        };
        Ok((format!("{} #{seq}", t("记录", "Record")), body))
    }
    .await;
    shown(&app, lang, result)
}

/// A subject's page: its report as text, its findings as a table.
async fn subject_page(
    app: Arc<App>,
    headers: HeaderMap,
    params: Vec<(String, String)>,
    access: Access,
    kind: &'static str,
    id: String,
) -> Response {
    let lang = Lang::choose(param(&params, "lang"), &headers);
    let result = async {
        authorize(&app, &headers, access)?;
        let at = moment(&app, &params, "at")?;
        // A case's version, read before the views are brought up to date, so that the
        // page shows at least every record it counts: the record link pins it as the step's
        // `expect`, and a step recorded by someone else meanwhile gets the clerk's refused.
        let version = match kind {
            "case" => Some(
                app.ledger
                    .book()
                    .stream_version(&format!("case:{id}"))
                    .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?,
            ),
            _ => None,
        };
        let reader = app.clone();
        let subject = id.clone();
        let shown_app = app.clone();
        let (text, findings, timeline, summary) = blocking(move || {
            reader.with_views(|p: &Projection| {
                let now = probity_ledger::now().unix_micros();
                let at = at.unwrap_or(now);
                let app = &shown_app;
                let missing = || probity_wire::WireError::new(ErrorCode::NotFound, format!("the ledger names no {kind} {subject:?}"));
                Ok(match kind {
                    "supplier" => {
                        let r = p.supplier_report(&subject, at).ok_or_else(missing)?;
                        let summary = supplier_summary(app, lang, &r, now);
                        (render::Text::in_zone(app.config.offset).supplier(&r), reviewed(p, r.findings), Vec::new(), summary)
                    }
                    "rep" => {
                        let r = p.rep_report(&subject, at).ok_or_else(missing)?;
                        let summary = rep_summary(app, lang, &r);
                        (render::Text::in_zone(app.config.offset).rep(&r), reviewed(p, r.findings), Vec::new(), summary)
                    }
                    "case" => {
                        let r = p.case_report(&subject).ok_or_else(missing)?;
                        let timeline = r.detail.timeline.clone();
                        let summary = case_summary(lang, &subject, p.next_step(&subject, at), version);
                        (render::Text::in_zone(app.config.offset).case(&r), reviewed(p, r.findings), timeline, summary)
                    }
                    _ => {
                        let r = p.staff_report(&subject).ok_or_else(missing)?;
                        let summary = staff_summary(app, lang, &r);
                        (render::Text::in_zone(app.config.offset).staff(&r), reviewed(p, r.findings), Vec::new(), summary)
                    }
                })
            })
        })
        .await?;
        let t = |zh, en| lang.pick(zh, en);
        let title = match kind {
            "supplier" => t("供应商", "Supplier"),
            "rep" => t("医药代表", "Sales rep"),
            "case" => t("采购案件", "Purchase case"),
            _ => t("工作人员", "Staff member"),
        };
        let body = html! {
            (summary)
            @if !timeline.is_empty() {
                h2 { (t("时间线", "Timeline")) }
                table.timeline {
                    thead { tr { th { (t("记录", "Record")) } th { (t("步骤", "Step")) } th { (t("发生时间", "Occurred")) } th { (t("入账时间", "Recorded")) } th { (t("签名人", "Signed by")) } th { (t("监督", "Supervision")) } } }
                    tbody { @for e in &timeline { tr {
                        td { (record_link(e.seq)) }
                        td { code { (e.event_type) } }
                        td { (when(&app, e.occurred_at)) }
                        td { (when(&app, e.recorded_at)) }
                        td { (e.signer_name.as_deref().unwrap_or("-")) }
                        td { @if let Some(s) = e.supervised_by { (record_link(s)) } @else { "—" } }
                    } } }
                }
            }
            h2 { (t("风险提示", "Findings")) " (" (findings.len()) ")" }
            @if !findings.is_empty() { (findings_table(&app, lang, &findings)) }
            h2 { (t("详情", "Details")) }
            pre.report { (text) }
        };
        Ok((format!("{title} {id}"), body))
    }
    .await;
    shown(&app, lang, result)
}

async fn supplier_page(
    State(app): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
) -> Response {
    subject_page(app, headers, params, Access::Staff, "supplier", id).await
}

async fn case_page(
    State(app): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
) -> Response {
    subject_page(app, headers, params, Access::Staff, "case", id).await
}

async fn rep_page(
    State(app): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
) -> Response {
    subject_page(app, headers, params, Access::Oversight, "rep", id).await
}

async fn staff_page(
    State(app): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
) -> Response {
    subject_page(app, headers, params, Access::Oversight, "staff", id).await
}

fn sanction_kind(lang: Lang, kind: &str) -> &'static str {
    match (kind, lang) {
        ("warning", Lang::Zh) => "警告",
        ("interview", Lang::Zh) => "约谈",
        ("product_suspension", Lang::Zh) => "暂停产品采购",
        ("supplier_suspension", Lang::Zh) => "暂停供货资格",
        ("blacklist", Lang::Zh) => "列入黑名单",
        ("warning", Lang::En) => "warning",
        ("interview", Lang::En) => "interview",
        ("product_suspension", Lang::En) => "product suspension",
        ("supplier_suspension", Lang::En) => "supplier suspension",
        ("blacklist", Lang::En) => "blacklist",
        _ => "?",
    }
}

/// A supplier at a glance: eligibility now, admission, sanctions with their derived ends,
/// blocked products, rep strikes.
fn supplier_summary(
    app: &App,
    lang: Lang,
    r: &probity_projector::SupplierReport,
    now: i64,
) -> Markup {
    let t = |zh, en| lang.pick(zh, en);
    let s = &r.supplier;
    html! {
        dl.supplier {
            dt { (t("名称", "Name")) } dd { (s.name.as_deref().unwrap_or("-")) }
            dt { (t("于所查时点", "At the moment asked")) } dd #eligibility {
                (when(app, r.at)) " · "
                @match &r.ineligible {
                    None => strong { (t("可以采购", "may be bought from")) },
                    Some(why) => strong.error { (t("不得采购：", "may not be bought from: ")) (why) },
                }
            }
            dt { (t("准入", "Admitted")) } dd {
                @match s.admitted {
                    Some((from, _, seq)) => { (when(app, from)) " " (record_link(seq)) },
                    None => { (t("未准入", "not admitted")) },
                }
            }
            @if !r.blocked_products.is_empty() {
                dt { (t("受限产品", "Blocked products")) } dd {
                    @for (product, seq) in &r.blocked_products { (product) " " (record_link(*seq)) " " }
                }
            }
            dt { (t("代表违规计次", "Rep strikes")) } dd {
                (r.strikes_in_window) (t(" 次（", " in the last ")) (r.strike_window_days) (t(" 天内）", " days"))
                @if let Some(step) = &r.escalation { " · " (t("惯例处理：", "customary step: ")) (step) }
            }
        }
        @if !s.sanctions.is_empty() {
            h2 { (t("处罚（止期按期限、解除和条件推算，以现在所知）", "Sanctions (ends derived from the duration, any lifting and conditions, as known now)")) }
            table #sanctions {
                thead { tr {
                    th { (t("决定", "Decision")) } th { (t("类型", "Kind")) } th { (t("产品", "Products")) }
                    th { (t("起", "From")) } th { (t("止", "Until")) } th { (t("现状", "Now")) } th { (t("记录", "Record")) }
                } }
                tbody { @for sanction in &s.sanctions {
                    @let end = sanction.end_known_at(now);
                    tr {
                        td { (sanction.sanction) }
                        td { (sanction_kind(lang, sanction.kind.as_str())) }
                        td { (sanction.products.join(", ")) }
                        td { (when(app, sanction.from)) }
                        td {
                            @if sanction.until == Some(sanction.from) { (t("一次性", "one-off")) }
                            @else { (end.map_or_else(|| t("另行通知", "further notice").to_owned(), |e| when(app, e))) }
                            @if sanction.lifted.is_some() { " " small { (t("（已解除）", "(lifted)")) } }
                        }
                        td { @if sanction.active(now, now) { strong { (t("执行中", "in force")) } }
                             @else if now < sanction.from { (t("尚未生效", "not yet")) }
                             @else { (t("已结束", "ended")) } }
                        td { (record_link(sanction.seq)) }
                    }
                } }
            }
        }
    }
}

fn case_role(lang: Lang, role: &str) -> &'static str {
    match (role, lang) {
        ("requester", Lang::Zh) => "申请人",
        ("panel", Lang::Zh) => "评审小组成员",
        ("chair", Lang::Zh) => "会议主持",
        ("plan_approver", Lang::Zh) => "计划审批人",
        ("contract_signer", Lang::Zh) => "合同签署人",
        ("acceptor", Lang::Zh) => "验收人",
        ("requester", Lang::En) => "requester",
        ("panel", Lang::En) => "panel member",
        ("chair", Lang::En) => "chair",
        ("plan_approver", Lang::En) => "plan approver",
        ("contract_signer", Lang::En) => "contract signer",
        ("acceptor", Lang::En) => "acceptor",
        _ => "?",
    }
}

/// A staff member at a glance: the reps they met, their roles in cases, their recusals.
fn staff_summary(app: &App, lang: Lang, r: &probity_projector::StaffReport) -> Markup {
    let t = |zh, en| lang.pick(zh, en);
    html! {
        h2 { (t("会见医药代表", "Meetings with reps")) " (" (r.meetings.len()) ")" }
        @if !r.meetings.is_empty() {
            table #meetings {
                thead { tr { th { (t("时间", "When")) } th { (t("代表", "Rep")) } th { (t("供应商", "Supplier")) } th { (t("记录", "Record")) } } }
                tbody { @for m in &r.meetings { tr {
                    td { (when(app, m.occurred)) }
                    td { a href={ "/reps/" (m.rep) } { (m.rep) } }
                    td { a href={ "/suppliers/" (m.supplier) } { (m.supplier) } }
                    td { (record_link(m.seq)) }
                } } }
            }
        }
        h2 { (t("在采购案件中的角色", "Roles in purchase cases")) " (" (r.roles.len()) ")" }
        @if !r.roles.is_empty() {
            table #roles {
                thead { tr { th { (t("案件", "Case")) } th { (t("角色", "Role")) } th { (t("记录", "Record")) } } }
                tbody { @for role in &r.roles { tr {
                    td { a href={ "/cases/" (role.case) } { (role.case) } }
                    td { (case_role(lang, &role.role)) }
                    td { (record_link(role.seq)) }
                } } }
            }
        }
        @if !r.recusals.is_empty() {
            p #recusals { (t("回避：", "Recused from: ")) @for case in &r.recusals { a href={ "/cases/" (case) } { (case) } " " } }
        }
    }
}

/// A case's next expected step, with a link that opens it ready to fill in and sign, the
/// case's `version` (the records naming it that this page shows) pinned as the step's
/// `expect`.
fn case_summary(lang: Lang, case: &str, next: Option<&str>, version: Option<u64>) -> Markup {
    let expect = version.map_or(String::new(), |v| {
        format!(
            "&{}={v}",
            urlencode_component(&format!("expect.case:{case}"))
        )
    });
    let t = |zh, en| lang.pick(zh, en);
    html! {
        p #next-step {
            (t("下一步：", "Next step: "))
            @match next {
                Some(step) => {
                    code { (step) } " "
                    a.record-next href={ "/record?type=" (step) "&payload.case=" (urlencode_component(case)) (expect) } { (t("登记此步骤", "record it")) }
                }
                None => { (t("无（已付款或已撤销）", "none (paid or cancelled)")) }
            }
        }
    }
}

/// A rep at a glance: registration and its visit log.
fn rep_summary(app: &App, lang: Lang, r: &probity_projector::RepReport) -> Markup {
    let t = |zh, en| lang.pick(zh, en);
    let rep = &r.rep;
    html! {
        dl.rep {
            dt { (t("姓名", "Name")) } dd { (rep.name.as_deref().unwrap_or("-")) }
            dt { (t("所属供应商", "Supplier")) } dd { @if let Some(s) = &rep.supplier { a href={ "/suppliers/" (s) } { (s) } } @else { "-" } }
            dt { (t("备案", "Registration")) } dd #registration {
                @match rep.registered {
                    Some((from, until, seq)) => { (when(app, from)) " – " (when(app, until)) " " (record_link(seq)) },
                    None => { (t("未备案", "never registered")) },
                }
                @if let Some((at, seq)) = rep.revoked { " · " strong.error { (t("已撤销 ", "revoked ")) (when(app, at)) } " " (record_link(seq)) }
                " · " @if r.valid { (t("于所查时点有效", "valid at the moment asked")) } @else { strong.error { (t("于所查时点无效", "not valid at the moment asked")) } }
            }
        }
        @if !r.visits.is_empty() {
            h2 { (t("来访记录", "Visits")) }
            table.visits {
                thead { tr { th { (t("来访", "Visit")) } th { (t("状态", "State")) } th { (t("接待人", "Host")) } th { (t("时段", "Slot")) } th { (t("预约记录", "Booking")) } } }
                tbody { @for v in &r.visits { tr {
                    td { (v.visit) }
                    td { (visit_state(lang, &v.state)) }
                    td { a href={ "/staff/" (v.detail.host) } { (v.detail.host) } }
                    td { (when(app, v.detail.slot.0)) " – " (when(app, v.detail.slot.1)) }
                    td { (record_link(v.detail.requested)) }
                } } }
            }
        }
    }
}

fn no_reviews(list: Vec<Finding>) -> Vec<FindingAnswer> {
    list.into_iter()
        .map(|finding| FindingAnswer {
            finding,
            reviews: Vec::new(),
        })
        .collect()
}

fn blacklist_table(app: &App, lang: Lang, entries: &[probity_projector::BlacklistEntry]) -> Markup {
    let t = |zh, en| lang.pick(zh, en);
    html! {
        table.blacklist {
            thead { tr {
                th { (t("统一社会信用代码", "USCC")) } th { (t("名称", "Name")) } th { (t("原因", "Reason")) }
                th { (t("起", "From")) } th { (t("止", "Until")) } th { (t("决定记录", "Decision record")) }
            } }
            tbody { @for e in entries { tr {
                td { a href={ "/suppliers/" (e.uscc) } { (e.uscc) } }
                td { (e.name.as_deref().unwrap_or("-")) }
                td { (reason(lang, &e.reason)) }
                td { (when(app, e.from)) }
                td { (e.until.map_or_else(|| t("另行通知", "further notice").to_owned(), |u| when(app, u))) }
                td { (record_link(e.seq)) }
            } } }
        }
    }
}

/// The auditor's replay: the blacklist and the findings as the ledger knew them at a moment
/// (or as true at it, with everything known now), or what changed between two moments.
async fn replay_page(State(app): AppState, headers: HeaderMap, Query(params): Params) -> Response {
    use probity_views::replay::{Moment, Replayer};
    let lang = Lang::choose(param(&params, "lang"), &headers);
    let result = async {
        authorize(&app, &headers, Access::Oversight)?;
        let true_time = param(&params, "sense") == Some("true");
        let moment_of = move |t: i64| if true_time { Moment::TrueAt(t) } else { Moment::KnownAt(t) };
        let at = moment(&app, &params, "at")?;
        let from = moment(&app, &params, "from")?;
        let to = moment(&app, &params, "to")?;
        let t = |zh, en| lang.pick(zh, en);
        let replay_error = |e: probity_views::replay::ReplayError| probity_wire::WireError::new(ErrorCode::Storage, e.to_string());
        let form = html! {
            form #replay-form method="get" action="/replay" {
                label { (t("时间含义", "Sense")) " "
                    select name="sense" {
                        option value="known" selected[!true_time] { (t("知悉时点（账本当时已记录的）", "known at (what the ledger held then)")) }
                        option value="true" selected[true_time] { (t("真实时点（当时发生的，以现在所知）", "true at (what had happened, as known now)")) }
                    }
                }
                br;
                label { (t("时点", "At")) " " input type="datetime-local" step="1" name="at" value=(param(&params, "at").unwrap_or("")); }
                " " (t("或比较", "or compare")) " "
                label { (t("自", "from")) " " input type="datetime-local" step="1" name="from" value=(param(&params, "from").unwrap_or("")); }
                label { " " (t("至", "to")) " " input type="datetime-local" step="1" name="to" value=(param(&params, "to").unwrap_or("")); }
                " " button type="submit" { (t("回溯", "Replay")) }
            }
        };
        let reader = app.clone();
        let body = match (at, from, to) {
            (_, Some(from), Some(to)) => {
                let diff = blocking(move || {
                    reader.with_history(|store, book| {
                        Replayer::new(store, book)
                            .and_then(|r| r.diff(moment_of(from), moment_of(to)))
                            .map_err(replay_error)
                    })
                })
                .await?;
                html! {
                    (form)
                    p.as_of { (t("自 ", "From ")) (when(&app, from)) (t(" 至 ", " to ")) (when(&app, to)) }
                    h2 { (t("新列入黑名单", "Newly banned")) " (" (diff.blacklist_added.len()) ")" }
                    div #blacklist-added { (blacklist_table(&app, lang, &diff.blacklist_added)) }
                    h2 { (t("不再列入黑名单", "No longer banned")) " (" (diff.blacklist_removed.len()) ")" }
                    div #blacklist-removed { (blacklist_table(&app, lang, &diff.blacklist_removed)) }
                    h2 { (t("新增风险提示", "New findings")) " (" (diff.findings_added.len()) ")" }
                    div #findings-added { (findings_table(&app, lang, &no_reviews(diff.findings_added))) }
                    h2 { (t("不再出现的风险提示", "Findings gone")) " (" (diff.findings_removed.len()) ")" }
                    div #findings-removed { (findings_table(&app, lang, &no_reviews(diff.findings_removed))) }
                    h2 { (t("证据或内容有变化的风险提示", "Findings whose evidence or summary changed")) " (" (diff.findings_changed.len()) ")" }
                    div #findings-changed { (findings_table(&app, lang, &no_reviews(diff.findings_changed.into_iter().map(|(_, after)| after).collect()))) }
                }
            }
            (Some(at), _, _) => {
                let replayed = blocking(move || {
                    reader.with_history(|store, book| {
                        Replayer::new(store, book)
                            .and_then(|r| r.replay(moment_of(at)))
                            .map_err(replay_error)
                    })
                })
                .await?;
                let (blacklist, findings) = (replayed.blacklist(), replayed.findings());
                let bundle = format!(
                    "/api/replay/bundle?{}={}",
                    if true_time { "true_at" } else { "known_at" },
                    probity_views::answers::Zone(app.config.offset).time(at).0.replace('+', "%2B")
                );
                html! {
                    (form)
                    p.as_of { (if true_time { t("真实时点 ", "True at ") } else { t("知悉时点 ", "Known at ") }) (when(&app, at)) }
                    p { a #replay-bundle href=(bundle) { (t("下载此时点的调查证据包（可离线验证）", "Download this moment's investigation bundle (verifiable offline)")) } }
                    h2 { (t("黑名单", "Blacklist")) " (" (blacklist.len()) ")" }
                    div #replay-blacklist { (blacklist_table(&app, lang, &blacklist)) }
                    h2 { (t("风险提示", "Findings")) " (" (findings.len()) ")" }
                    div #replay-findings { (findings_table(&app, lang, &no_reviews(findings))) }
                }
            }
            _ => html! {
                (form)
                p.hint { (t("选择一个时点，或两个时点以比较其间的变化。", "Choose a moment, or two moments to see what changed between them.")) }
            },
        };
        Ok((t("回溯", "Replay").to_owned(), body))
    }
    .await;
    shown(&app, lang, result)
}

/// Every purchase case: where it stands and what it expects next.
async fn cases_page(State(app): AppState, headers: HeaderMap, Query(params): Params) -> Response {
    let lang = Lang::choose(param(&params, "lang"), &headers);
    let result = async {
        authorize(&app, &headers, Access::Staff)?;
        let reader = app.clone();
        let lines = blocking(move || {
            reader.with_views(|p| Ok(case_lines(p, probity_ledger::now().unix_micros())))
        })
        .await?;
        let t = |zh, en| lang.pick(zh, en);
        let money = |fen: Option<u64>| fen.map(render::yuan).unwrap_or_default();
        let body = html! {
            p { (t("共 ", "")) (lines.len()) (t(" 件", " cases")) " · " a href="/api/cases?format=csv" { (t("下载 CSV", "Download CSV")) } }
            table #cases {
                thead { tr {
                    th { (t("案件", "Case")) } th { (t("当前步骤", "Last step")) } th { (t("下一步", "Next step")) }
                    th { (t("科室", "Department")) } th { (t("品目", "Item")) } th { (t("预算", "Estimate")) }
                    th { (t("中标供应商", "Awarded to")) } th { (t("中标金额", "Award")) } th { (t("风险提示", "Findings")) }
                } }
                tbody { @for l in &lines { tr data-case=(l.case) {
                    td { a href={ "/cases/" (l.case) } { (l.case) } }
                    td { code { (l.state) } }
                    td { @if let Some(step) = &l.next_step { code { (step) } } @else { "—" } }
                    td { (l.department.as_deref().unwrap_or("-")) }
                    td { (l.item.as_deref().unwrap_or("-")) }
                    td { (money(l.estimated_fen)) }
                    td { @if let Some(s) = &l.award_supplier { a href={ "/suppliers/" (s) } { (s) } } }
                    td { (money(l.award_fen)) }
                    td { (l.findings) }
                } } }
            }
        };
        Ok((t("采购案件", "Purchase cases").to_owned(), body))
    }
    .await;
    shown(&app, lang, result)
}

fn visit_state(lang: Lang, state: &str) -> &'static str {
    match (state, lang) {
        ("requested", Lang::Zh) => "待审批",
        ("approved", Lang::Zh) => "已批准",
        ("rejected", Lang::Zh) => "已拒绝",
        ("checked_in", Lang::Zh) => "已登记入场",
        ("completed", Lang::Zh) => "已结束",
        ("requested", Lang::En) => "awaiting approval",
        ("approved", Lang::En) => "approved",
        ("rejected", Lang::En) => "rejected",
        ("checked_in", Lang::En) => "checked in",
        ("completed", Lang::En) => "completed",
        _ => "?",
    }
}

/// The discipline office's desk: every booked rep visit, those awaiting approval first, with
/// links that open the approval or rejection ready to sign.
async fn visits_page(State(app): AppState, headers: HeaderMap, Query(params): Params) -> Response {
    let lang = Lang::choose(param(&params, "lang"), &headers);
    let result = async {
        authorize(&app, &headers, Access::Oversight)?;
        let reader = app.clone();
        let mut visits: Vec<(String, probity_projector::VisitView)> = blocking(move || {
            reader.with_views(|p| Ok(p.visits.iter().map(|(id, v)| (id.clone(), v.clone())).collect()))
        })
        .await?;
        // Awaiting approval first, then the latest slot first.
        visits.sort_by_key(|(_, v)| (v.state() != "requested", std::cmp::Reverse(v.slot.0)));
        let t = |zh, en| lang.pick(zh, en);
        let pending = visits.iter().filter(|(_, v)| v.state() == "requested").count();
        let body = html! {
            p { (t("待审批 ", "Awaiting approval: ")) strong #pending { (pending) } (t(" 项；代表只能在指定接待室会见工作人员。", "; reps may meet staff only in a designated reception room.")) }
            table #visits {
                thead { tr {
                    th { (t("来访", "Visit")) } th { (t("状态", "State")) } th { (t("代表", "Rep")) } th { (t("接待人", "Host")) }
                    th { (t("科室", "Department")) } th { (t("时段", "Slot")) } th { (t("预约记录", "Booking")) } th { (t("处理", "Action")) }
                } }
                tbody { @for (id, v) in &visits { tr data-visit=(id) {
                    td { (id) }
                    td { (visit_state(lang, v.state())) }
                    td { a href={ "/reps/" (v.rep) } { (v.rep) } }
                    td { a href={ "/staff/" (v.host) } { (v.host) } }
                    td { (v.department) }
                    td { (when(&app, v.slot.0)) " – " (when(&app, v.slot.1)) }
                    td { (record_link(v.requested)) }
                    td { @if v.state() == "requested" {
                        a.approve href={ "/record?type=rep.visit_approved&payload.visit=" (urlencode_component(id)) } { (t("批准", "Approve")) }
                        " · "
                        a.reject href={ "/record?type=rep.visit_rejected&payload.visit=" (urlencode_component(id)) } { (t("拒绝", "Reject")) }
                    } }
                } } }
            }
        };
        Ok((t("代表来访", "Rep visits").to_owned(), body))
    }
    .await;
    shown(&app, lang, result)
}

/// A USCC, filing number, case or staff id, or a supplier's name: the page of what it names.
async fn search(State(app): AppState, headers: HeaderMap, Query(params): Params) -> Response {
    let lang = Lang::choose(param(&params, "lang"), &headers);
    if let Err(e) = authorize(&app, &headers, Access::Staff) {
        return shown(&app, lang, Err(e));
    }
    let q = param(&params, "q").unwrap_or("").trim().to_owned();
    let reader = app.clone();
    let query = q.clone();
    let found = blocking(move || {
        reader.with_views(|p| {
            let target = if p.suppliers.holds(&query) {
                Some(format!("/suppliers/{query}"))
            } else if p.cases.holds(&query) {
                Some(format!("/cases/{query}"))
            } else if p.reps.holds(&query) {
                Some(format!("/reps/{query}"))
            } else if p.staff_report(&query).is_some() {
                Some(format!("/staff/{query}"))
            } else {
                p.suppliers
                    .iter()
                    .find(|(_, s)| {
                        s.name
                            .as_deref()
                            .is_some_and(|n| !query.is_empty() && n.contains(query.as_str()))
                    })
                    .map(|(uscc, _)| format!("/suppliers/{uscc}"))
            };
            Ok(target)
        })
    })
    .await;
    match found {
        Ok(Some(target)) => Redirect::to(&target).into_response(),
        Ok(None) => shown(
            &app,
            lang,
            Err(ApiError::new(
                ErrorCode::NotFound,
                format!(
                    "{q:?}: {}",
                    lang.pick(
                        "账本中没有此供应商、代表、案件或人员",
                        "the ledger names no such supplier, rep, case or staff member"
                    )
                ),
            )),
        ),
        Err(e) => shown(&app, lang, Err(e)),
    }
}

async fn ledger_page(State(app): AppState, headers: HeaderMap, Query(params): Params) -> Response {
    let lang = Lang::choose(param(&params, "lang"), &headers);
    let result = async {
        let caller = authorize(&app, &headers, Access::Public)?;
        let may_list_keys = caller.may(Access::Staff);
        let reader = app.clone();
        let (status, checkpoint, keys) = blocking(move || {
            let status = reader
                .ledger
                .status()
                .map_err(|e| probity_wire::WireError::new(ErrorCode::Storage, e.to_string()))?;
            let checkpoint = reader
                .ledger
                .latest_checkpoint()
                .map(|(size, note)| (size, String::from_utf8_lossy(&note.to_bytes()).into_owned()));
            let keys = if may_list_keys { key_lines(&reader)? } else { Vec::new() };
            Ok((status, checkpoint, keys))
        })
        .await?;
        let t = |zh, en| lang.pick(zh, en);
        let body = html! {
            dl.status {
                dt { (t("账本", "Ledger")) } dd { (status.ledger) " (" (status.origin) ")" }
                dt { (t("记录数", "Records")) } dd #size { (status.size) }
                dt { (t("默克尔根", "Merkle root")) } dd { code { (status.root) } }
                dt { (t("最近入账", "Last recorded")) } dd { (status.last_recorded_at.map_or_else(|| "-".to_owned(), |r| when(&app, r.unix_micros()))) }
                @if let Some(upstream) = &app.upstream {
                    dt { (t("来源", "Source")) }
                    dd #copy {
                        @match upstream.refused() {
                            None => (t("运行中账本的已验证副本，逐个检查点跟进；新记录交由 ledgerd 入账", "a verified copy of the running ledger, followed checkpoint by checkpoint; new records go to ledgerd")),
                            Some(why) => strong { (t("副本已停止跟进：", "The copy stopped following: ")) (why) },
                        }
                    }
                }
            }
            h2 { (t("最新签名检查点", "Latest signed checkpoint")) }
            @match &checkpoint {
                Some((size, note)) => { p { (t("覆盖前 ", "Covers the first ")) (size) (t(" 条记录；见证人副署行随附。", " records; witnesses' cosignature lines follow the ledger's.")) } pre.note { (note) } }
                None => p { (t("尚无检查点。", "No checkpoint yet.")) },
            }
            h2 { (t("任一记录的证明包", "A proof bundle for any record")) }
            form #prove method="get" action="/records/0/proof-bundle" onsubmit="this.action='/api/records/'+this.seq.value+'/proof-bundle'" {
                label { (t("记录号", "Record")) " " input type="number" min="0" name="seq" required; }
                " " button type="submit" { (t("下载", "Download")) }
            }
            p { a href="/api/export" download { (t("下载整本账本导出（probity verify 可离线验证）", "Download the whole ledger as an export (probity verify checks it offline)")) } }
            p { a #verify-link href="/verify" { (t("核验您持有的导出文件（对照您固定的账本公钥）", "Verify an export you hold (against the ledger key you pinned)")) } }
            @if !keys.is_empty() {
                h2 { (t("已登记的密钥", "Enrolled keys")) }
                table.keys {
                    thead { tr { th { (t("持有人", "Holder")) } th { (t("角色", "Role")) } th { (t("部门", "Department")) } th { (t("密钥标识", "Key id")) } th { (t("登记", "Enrolled")) } th { (t("吊销", "Revoked")) } } }
                    tbody { @for k in &keys { tr {
                        td { (k.holder) } td { (k.role) } td { (k.department.as_deref().unwrap_or("-")) }
                        td { code { (k.key_id) } } td { (record_link(k.enrolled_at)) }
                        td { @if let Some(r) = k.revoked_at { (record_link(r)) } @else { "—" } }
                    } } }
                }
            }
        };
        Ok((t("账本与证明", "Ledger and proofs").to_owned(), body))
    }
    .await;
    shown(&app, lang, result)
}

/// The clerk's page: a key held by the browser (WebCrypto, not extractable), a form made
/// from the event type's JSON Schema, signing in the browser, the receipt.
async fn record_form_page(
    State(app): AppState,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    let lang = Lang::choose(param(&params, "lang"), &headers);
    let result = authorize(&app, &headers, Access::Record).map(|_| {
        let t = |zh, en| lang.pick(zh, en);
        let body = html! {
            section #key-section {
                h2 { (t("1. 您的签名密钥", "1. Your signing key")) }
                p { (t("密钥只保存在本浏览器中（不可导出），服务器永远看不到它。", "The key stays in this browser (not extractable); the server never sees it.")) }
                p #key-status { (t("尚未载入密钥。", "No key loaded.")) }
                label { (t("导入 probity keygen 生成的私钥文件：", "Import a private key file made by probity keygen: ")) input #key-file type="file"; }
                " " button #key-generate type="button" { (t("或在浏览器中生成新密钥", "or generate a new key here")) }
                p.hint { (t("新密钥需由管理员登记（probity enroll）后才能签名入账。", "A new key signs nothing until an administrator enrols it (probity enroll).")) }
            }
            section #event-section {
                h2 { (t("2. 事件", "2. The event")) }
                label { (t("事件类型", "Event type")) " " select #event-type {} }
                p #event-summary.hint {}
                label { (t("发生时间（留空为现在）", "Occurred at (empty: now)")) " " input #occurred-at type="datetime-local" step="1"; }
                form #event-form {}
            }
            section {
                h2 { (t("3. 签名并提交", "3. Sign and submit")) }
                button #sign-submit type="button" { (t("签名并提交", "Sign and submit")) }
                p #expect-note.hint {}
                div #outcome {}
                details { summary { (t("签名的内容", "What was signed")) } pre #signed-body {} }
            }
            script { (PreEscaped(format!(
                "window.PROBITY = {{lang: {:?}, offset: {:?}}};",
                lang.tag(),
                display::offset_text(app.config.offset)
            ))) }
            script src="/assets/console.js" {}
        };
        (t("登记事件", "Record an event").to_owned(), body)
    });
    shown(&app, lang, result)
}

/// An auditor's check of an export they hold, against the ledger key they were given: the
/// file goes to `POST /api/verify` as it is read (`assets/verify.js`), the report is shown.
async fn verify_page(State(app): AppState, headers: HeaderMap, Query(params): Params) -> Response {
    let lang = Lang::choose(param(&params, "lang"), &headers);
    let result = authorize(&app, &headers, Access::Oversight).map(|_| {
        let t = |zh, en| lang.pick(zh, en);
        let body = html! {
            p { (t("选择一份导出文件（probity export 或本站“下载整本账本导出”），粘贴医院交给您的账本验证公钥（ledger.vkey 的内容）。服务器逐条核验：哈希链、签名、角色、检查点签名与默克尔根。",
                   "Choose an export (from probity export, or this site's whole-ledger download) and paste the ledger verifier key the hospital gave you (the content of ledger.vkey). The server checks it record by record: hash chain, signatures, roles, checkpoint signatures and Merkle roots.")) }
            form #verify-form {
                p { label { (t("导出文件", "Export file")) " " input #verify-file type="file" required; } }
                p { label { (t("固定的账本公钥", "Pinned ledger key")) " " input #verify-vkey type="text" size="80" placeholder="city-hospital+…+…"; } }
                p.hint { (t("不填公钥时，只能证明文件自洽（以创世记录所载公钥核对），不能证明它是哪家医院的账本。", "Without a key, verification shows only that the file agrees with itself (checked against the key its genesis record names), not whose ledger it is.")) }
                p { label { (t("见证人公钥（每行一个，可不填）", "Witness keys (one per line, optional)")) br; textarea #verify-witnesses rows="2" cols="80" {} } }
                p { label { (t("至少需要几位见证人副署最新检查点", "How many of them must have cosigned the latest checkpoint")) " " input #verify-quorum type="number" min="0" value="0"; } }
                p { label { input #verify-unanchored type="checkbox"; " " (t("接受最后一个检查点之后的记录（仅报告，不作为问题）", "Accept records past the last checkpoint (reported, not a finding)")) } }
                button #verify-submit type="submit" { (t("核验", "Verify")) }
            }
            div #verify-outcome {}
            script { (PreEscaped(format!("window.PROBITY = {{lang: {:?}}};", lang.tag()))) }
            script src="/assets/verify.js" {}
        };
        (t("核验导出文件", "Verify an export").to_owned(), body)
    });
    shown(&app, lang, result)
}

async fn login_page(State(app): AppState, headers: HeaderMap, Query(params): Params) -> Response {
    let lang = Lang::choose(param(&params, "lang"), &headers);
    let t = |zh, en| lang.pick(zh, en);
    let body = html! {
        @if app.config.tokens.is_none() {
            p { (t("本服务器未配置令牌（仅本机访问），无需登录。", "This server has no tokens file (it listens on loopback only): no sign-in needed.")) }
        }
        form #login method="post" action="/login" {
            label { (t("访问令牌", "Access token")) " " input type="password" name="token" autocomplete="off" required; }
            " " button type="submit" { (t("登录", "Sign in")) }
        }
        p.hint { (t("令牌由管理员用 probity token add 发放。", "An administrator issues tokens with probity token add.")) }
        p { a href="/logout" { (t("退出登录", "Sign out")) } }
    };
    page(&app, lang, t("登录", "Sign in"), body).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(app): AppState, headers: HeaderMap, Form(form): Form<LoginForm>) -> Response {
    let lang = Lang::choose(None, &headers);
    let known = app
        .config
        .tokens
        .as_ref()
        .is_some_and(|tokens| tokens.caller(form.token.trim()).is_some());
    if !known {
        return shown(
            &app,
            lang,
            Err(ApiError::new(
                ErrorCode::Unauthenticated,
                lang.pick("令牌无效。", "That token is not one this server knows."),
            )),
        );
    }
    // HttpOnly: page scripts cannot read it; SameSite=Strict: other sites' pages cannot send it.
    let cookie = format!(
        "probity_token={}; Path=/; HttpOnly; SameSite=Strict",
        form.token.trim()
    );
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, cookie),
            (header::LOCATION, "/".to_owned()),
        ],
    )
        .into_response()
}

async fn logout() -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                "probity_token=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict".to_owned(),
            ),
            (header::LOCATION, "/".to_owned()),
        ],
    )
        .into_response()
}

async fn set_lang(Path(lang): Path<String>) -> Response {
    let lang = if lang == "en" { "en" } else { "zh" };
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!("lang={lang}; Path=/; SameSite=Lax"),
            ),
            (header::LOCATION, "/".to_owned()),
        ],
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../assets/console.js"),
    )
        .into_response()
}

async fn verify_script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../assets/verify.js"),
    )
        .into_response()
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../assets/console.css"),
    )
        .into_response()
}
