/**
 * The report page's stylesheet, inlined so the page is one file that opens anywhere
 * (mail attachment, file share) with no fonts or assets to fetch: system fonts only.
 */
export const REPORT_CSS = `
:root{--ink:#101828;--text:#344054;--muted:#667085;--line:#eaecf0;--bg:#f5f6f8;--navy:#1d3557}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Liberation Sans",sans-serif;font-variant-numeric:tabular-nums}
main{max-width:1140px;margin:0 auto;padding:32px 24px 48px}
a{color:inherit;text-decoration:none}
a:hover{text-decoration:underline}
.report-head{margin-bottom:24px;padding-bottom:16px;border-bottom:3px solid var(--navy)}
.eyebrow{text-transform:uppercase;letter-spacing:.08em;font-size:11px;font-weight:600;color:var(--muted)}
h1{margin:4px 0 6px;font-size:28px;line-height:1.2;color:var(--ink);letter-spacing:-.01em}
h2{margin:0;font-size:19px;color:var(--ink)}
h3{margin:24px 0 8px;font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
.meta,.company-meta{margin:0;color:var(--muted)}
.company-meta{margin:4px 0 16px}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:24px;margin:0 0 20px;box-shadow:0 1px 2px rgba(16,24,40,.05)}
.tiles{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:12px;margin:16px 0}
.tile{border:1px solid var(--line);border-radius:8px;padding:12px 14px}
.tile-value{display:block;font-size:26px;font-weight:700;color:var(--ink);line-height:1.2}
.tile-label{font-size:12px;color:var(--muted)}
.tone-flagged .tile-value,.tone-high .tile-value{color:#b42318}
.grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:16px;margin:0 0 8px}
figure.chart{margin:0;border:1px solid var(--line);border-radius:8px;padding:12px 12px 6px}
figure.chart.wide{grid-column:1/-1}
figcaption{font-size:13px;font-weight:600;color:var(--ink);margin-bottom:6px}
.chart-svg{display:block;width:100%;height:auto}
.flag-marker{cursor:help}
table{width:100%;border-collapse:collapse;font-size:13px;margin-top:12px}
th{text-align:left;font-weight:600;color:var(--muted);font-size:12px;border-bottom:1px solid var(--line);padding:6px 8px;white-space:nowrap}
td{border-bottom:1px solid var(--line);padding:8px;vertical-align:top}
tbody tr:last-child td{border-bottom:0}
.num{text-align:right;white-space:nowrap}
.muted{color:#98a2b3}
.ticker{display:inline-block;font-weight:700;color:var(--navy);margin-right:8px;letter-spacing:.02em}
.company-head{display:flex;align-items:center;justify-content:space-between;gap:12px}
.badge,.sev{display:inline-block;border-radius:999px;font-weight:600;white-space:nowrap}
.badge{padding:3px 12px;font-size:12px}
.sev{padding:1px 8px;font-size:11px;text-transform:uppercase;letter-spacing:.04em}
.status-ok{background:#ecfdf3;color:#067647}
.status-flagged{background:#fef3f2;color:#b42318}
.status-data_unavailable{background:#f2f4f7;color:#475467}
.status-failed{background:#f4f3ff;color:#5925dc}
.sev-high{background:#fef3f2;color:#b42318}
.sev-medium{background:#fffaeb;color:#b54708}
.sev-low{background:#f2f4f7;color:#475467}
.cell-high{background:#fef3f2;color:#b42318;font-weight:600}
.cell-medium{background:#fffaeb;color:#b54708;font-weight:600}
.cell-low{background:#f8f9fb;font-weight:600}
table.flags td.evidence{font-size:12px;color:var(--ink)}
table.flags td:nth-child(2),table.flags td:nth-child(3){white-space:nowrap}
table.flags td:nth-child(6),table.flags td:nth-child(7){min-width:180px}
.reason{margin:0;padding:12px 14px;border-radius:8px;background:#f8f9fb;border:1px solid var(--line)}
.note{color:var(--muted);font-size:13px;margin:8px 0}
.legend{color:var(--muted);font-size:12px;margin:14px 0 0}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin:0 4px 0 8px;vertical-align:-1px}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:24px}
@media (max-width:760px){.grid{grid-template-columns:1fr}.tiles{grid-template-columns:repeat(2,minmax(0,1fr))}}
@media print{body{background:#fff}.card{box-shadow:none;break-inside:avoid-page}}
`;
