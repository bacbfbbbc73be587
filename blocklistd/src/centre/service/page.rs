//! The operator's page (`GET /operator`): the centre's [`Overview`] as one
//! server-rendered HTML page, read-only, without scripts, refreshed by the
//! browser every [`REFRESH_SECONDS`]. Every value shown is escaped (maud
//! escapes whatever it splices in), as agencies' labels and ids come from
//! outside the centre.
//!
//! It shows what the intake service holds, queued work included, so it is
//! for the operator's network: the reverse proxy in front of the service
//! keeps `/operator` off the public side (docs/CENTRE.md).

use blocklist_core::Timestamp;
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::centre::inspect::time;
use crate::centre::overview::{Changes, Overview};
use crate::centre::receipts::lagging;

/// How often the browser reloads the page.
pub const REFRESH_SECONDS: u32 = 30;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin-bottom:1.5em}\
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
code{font-size:.9em}.none{color:#777}tr.lagging{background:#fde2e2}";

/// The page for `overview`.
///
/// ```
/// use blocklistd::centre::overview::Overview;
/// use blocklistd::centre::service::page::render;
/// let empty = Overview { list: String::new(), current: None, log: None,
///     listings: vec![], versions: vec![], waiting: vec![], propagation: vec![],
///     lag_alert: 3600 };
/// assert!(render(&empty).contains("Nothing published yet"));
/// ```
pub fn render(overview: &Overview) -> String {
    let title = if overview.list.is_empty() {
        "blocklist centre".to_owned()
    } else {
        format!("{} · blocklist centre", overview.list)
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content=(REFRESH_SECONDS);
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { (title) }
                (current(overview))
                (listings(overview))
                (versions(overview))
                (waiting(overview))
                (propagation(overview))
            }
        }
    }
    .into_string()
}

fn current(overview: &Overview) -> Markup {
    html! {
        section #current {
            h2 { "Version in force" }
            @match &overview.current {
                None => p.none { "Nothing published yet." },
                Some(c) => table {
                    tr { th { "version" } td #version { (c.version) } }
                    tr { th { "entries" } td #entries { (c.entries) } }
                    tr { th { "issued" } td { (time(c.issued_at)) } }
                    tr { th { "manifest expires" } td { (time(c.expires_at)) } }
                    tr { th { "state digest" } td { code { (c.digest) } } }
                },
            }
            h2 { "Transparency log" }
            @match &overview.log {
                None => p.none { "No log yet." },
                Some(log) => table #log {
                    tr { th { "size" } td #log-size { (log.size) } }
                    tr { th { "root" } td { code { (log.root) } } }
                    tr {
                        th { "cosigned by" }
                        td #cosigned-by {
                            @if log.cosigned_by.is_empty() { span.none { "no witness yet" } }
                            @else { (log.cosigned_by.join(", ")) }
                        }
                    }
                },
            }
        }
    }
}

fn listings(overview: &Overview) -> Markup {
    html! {
        section {
            h2 { "Entries by agency and kind" }
            @if overview.listings.is_empty() {
                p.none { "No listings." }
            } @else {
                table #listings {
                    tr { th { "agency" } th { "accounts" } th { "numbers" } th { "domains" } th { "other" } th { "all" } }
                    @for row in &overview.listings {
                        tr {
                            td { (row.agency) }
                            @for n in row.by_kind { td.n { (n) } }
                            td.n { (row.total()) }
                        }
                    }
                }
            }
        }
    }
}

fn versions(overview: &Overview) -> Markup {
    html! {
        section {
            h2 { "Recent versions" }
            @if overview.versions.is_empty() {
                p.none { "No deltas published." }
            } @else {
                table #versions {
                    tr {
                        th { "version" } th { "published" } th { "added" } th { "updated" }
                        th { "removed" } th { "submissions" } th { "overrides" }
                        th { "entries after" } th { "bytes" }
                    }
                    @for v in &overview.versions {
                        tr {
                            td { (v.version) }
                            td { (time(v.created_at)) }
                            @match v.changes {
                                Some(Changes { adds, updates, removes, submissions, overrides }) => {
                                    td.n { (adds) } td.n { (updates) } td.n { (removes) }
                                    td.n { (submissions) } td.n { (overrides) }
                                }
                                None => td.none colspan="5" { "a bulk delta, not counted here" },
                            }
                            td.n { (v.entries) }
                            td.n { (v.bytes) }
                        }
                    }
                }
            }
        }
    }
}

fn waiting(overview: &Overview) -> Markup {
    html! {
        section {
            h2 { "Queued for the next publish" }
            @if overview.waiting.is_empty() {
                p.none #queue-empty { "Nothing queued." }
            } @else {
                table #queued {
                    tr { th { "what" } th { "id" } th { "agency" } th { "urgent" } th { "accepted" } th { "promised version" } }
                    @for w in &overview.waiting {
                        tr {
                            td { (w.work) }
                            td { code { (w.id) } }
                            td { (w.agency.as_deref().unwrap_or("")) }
                            td { (if w.urgent { "yes" } else { "no" }) }
                            td { (time(w.accepted_at)) }
                            td.n { (w.promised_version) }
                        }
                    }
                }
            }
        }
    }
}

fn propagation(overview: &Overview) -> Markup {
    let shown = |t: Option<u64>| t.map_or_else(|| "–".to_owned(), |t| time(Timestamp(t)));
    html! {
        section {
            h2 { "Propagation" }
            @if overview.propagation.is_empty() {
                p.none { "No replica registered (blocklist replicas add)." }
            } @else {
                p { "From each replica's newest signed receipt, the laggards first; behind by more than "
                    (overview.lag_alert) " s is marked." }
                table #propagation {
                    tr { th { "replica" } th { "replica id" } th { "version" } th { "applied" }
                         th { "receipt taken" } th { "versions behind" } th { "lag (s)" } }
                    @for r in &overview.propagation {
                        tr class=[lagging(r, overview.lag_alert).then_some("lagging")] {
                            td { (r.name) }
                            td { code { (r.replica_id.get(..16).unwrap_or(&r.replica_id)) "…" } }
                            td.n { (r.version.map_or_else(|| "none yet".to_owned(), |v| v.to_string())) }
                            td { (shown(r.applied_at)) }
                            td { (shown(r.received_at)) }
                            td.n { (r.lag_versions) }
                            td.n { (r.lag_seconds.map_or_else(|| "unknown".to_owned(), |s| s.to_string())) }
                        }
                    }
                }
            }
        }
    }
}
