// The dashboard's one style sheet, served at /dashboard.css (a string here: the build copies no
// other files). Plain CSS, light colours, the roles of the mail path in fixed colours:
// MUA blue, MTA amber, MDA green; failures red.
export const CSS = `
:root {
  --bg: #f6f7f9; --panel: #fff; --ink: #1d2330; --muted: #5f6b7a; --line: #d9dee5;
  --mua: #2f6fdb; --mua-bg: #e8f0fd; --mta: #b7791f; --mta-bg: #fdf3e3; --mda: #2f855a; --mda-bg: #e6f4ec;
  --bad: #c53030; --bad-bg: #fdecec; --ok: #2f855a; --accent: #3949ab;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; color: var(--ink); background: var(--bg); }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
header.top { display: flex; align-items: center; gap: .9rem; padding: .55rem 1.2rem; background: #1f2a44; color: #fff; flex-wrap: wrap; }
header.top .brand { font-weight: 700; font-size: 1.1rem; color: #fff; }
header.top .brand small { font-weight: 400; opacity: .7; margin-left: .4rem; }
header.top nav { display: flex; gap: .2rem; flex-wrap: wrap; }
header.top nav a { color: #d7def0; padding: .3rem .55rem; border-radius: 6px; font-size: .93rem; white-space: nowrap; }
header.top nav a.on, header.top nav a:hover { background: #34436a; color: #fff; text-decoration: none; }
header.top .who { margin-left: auto; display: flex; align-items: center; gap: .6rem; font-size: .88rem; color: #d7def0; white-space: nowrap; }
@media (max-width: 1400px) { header.top .brand small { display: none; } }
header.top .who button { background: transparent; color: #d7def0; border: 1px solid #56658c; }
.live { display: inline-flex; align-items: center; gap: .35rem; font-size: .8rem; }
.live::before { content: ""; width: .55rem; height: .55rem; border-radius: 50%; background: #8a94a6; }
.live.on::before { background: #48bb78; box-shadow: 0 0 0 3px rgba(72,187,120,.25); }
main { max-width: 1320px; margin: 0 auto; padding: 1.2rem 1.5rem 3rem; }
h1 { font-size: 1.5rem; margin: .4rem 0 .3rem; }
h2 { font-size: 1.15rem; margin: 1.6rem 0 .5rem; }
h3 { font-size: 1rem; margin: 1rem 0 .4rem; }
p.lead { color: var(--muted); margin: 0 0 1rem; max-width: 60rem; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 1rem 1.2rem; margin: 0 0 1rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 1rem; }
.stats { display: flex; gap: .8rem; flex-wrap: wrap; margin: .5rem 0; }
.stat { background: var(--bg); border-radius: 8px; padding: .45rem .8rem; min-width: 6.5rem; }
.stat b { display: block; font-size: 1.35rem; }
.stat span { color: var(--muted); font-size: .8rem; }
table { border-collapse: collapse; width: 100%; background: var(--panel); }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); font-weight: 600; }
tr.new td { animation: flash 2.5s ease-out; }
@keyframes flash { from { background: #fff3bf; } to { background: transparent; } }
code, .mono { font-family: var(--mono); font-size: .88em; }
.muted { color: var(--muted); }
.bad { color: var(--bad); }
.ok { color: var(--ok); }
.tag { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .78rem; font-weight: 600; border: 1px solid transparent; white-space: nowrap; }
.tag.MUA { background: var(--mua-bg); color: var(--mua); border-color: #c4d6f7; }
.tag.MTA { background: var(--mta-bg); color: var(--mta); border-color: #f1d7a8; }
.tag.MDA { background: var(--mda-bg); color: var(--mda); border-color: #b9e0c8; }
.tag.bad { background: var(--bad-bg); color: var(--bad); border-color: #f4c2c2; }
.tag.plain { background: #eef0f4; color: var(--muted); }
button, .button { font: inherit; font-size: .85rem; padding: .3rem .7rem; border-radius: 6px; border: 1px solid var(--line); background: #fff; color: var(--ink); cursor: pointer; }
button:disabled { opacity: .45; cursor: not-allowed; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { color: var(--bad); border-color: #f0b4b4; }
form.inline { display: inline; margin: 0; }
input[type=text], input[type=password], input[type=email] { font: inherit; padding: .35rem .55rem; border: 1px solid var(--line); border-radius: 6px; min-width: 12rem; }
.flash { padding: .6rem .9rem; border-radius: 8px; margin: 0 0 1rem; background: var(--mda-bg); color: var(--mda); }
.flash.error { background: var(--bad-bg); color: var(--bad); }
.signin { max-width: 24rem; margin: 4rem auto; }
.signin label { display: block; margin: .8rem 0 .2rem; font-weight: 600; }
.signin input { width: 100%; }
.signin button { margin-top: 1rem; width: 100%; padding: .5rem; }

/* the journey: stations (boxes) and hops (arrows) */
.journey { display: flex; align-items: stretch; overflow-x: auto; padding: .8rem .2rem 1rem; gap: 0; }
.station { flex: 0 0 auto; width: 8.8rem; border: 2px solid var(--line); border-radius: 12px; padding: .6rem .7rem; background: #fff; text-align: center; align-self: center; }
.station .role { font-weight: 800; font-size: 1.15rem; letter-spacing: .04em; }
.station .name { font-family: var(--mono); font-size: .78rem; overflow-wrap: anywhere; }
.station .sub { color: var(--muted); font-size: .78rem; word-break: break-word; }
.station.MUA { border-color: var(--mua); background: var(--mua-bg); } .station.MUA .role { color: var(--mua); }
.station.MTA { border-color: var(--mta); background: var(--mta-bg); } .station.MTA .role { color: var(--mta); }
.station.MDA { border-color: var(--mda); background: var(--mda-bg); } .station.MDA .role { color: var(--mda); }
.station.failed { border-color: var(--bad); background: var(--bad-bg); border-style: dashed; } .station.failed .role { color: var(--bad); }
.hop { flex: 1 1 7rem; min-width: 6.8rem; display: flex; flex-direction: column; justify-content: center; padding: 0 .3rem; }
.hop .attempt { display: block; margin: .25rem 0; color: var(--ink); text-align: center; font-size: .74rem; line-height: 1.3; border-radius: 6px; padding: .15rem .2rem; }
.hop a.attempt:hover { background: #eef1fb; text-decoration: none; }
.hop .arrow { position: relative; height: 2px; background: #6b778a; margin: .3rem .6rem .3rem 0; }
.hop .arrow::after { content: ""; position: absolute; right: -.55rem; top: -5px; border: 6px solid transparent; border-left: 10px solid #6b778a; border-right: 0; }
.hop .attempt.failed { color: var(--bad); }
.hop .attempt.failed .arrow { background: var(--bad); height: 2px; background: repeating-linear-gradient(90deg, var(--bad) 0 6px, transparent 6px 10px); }
.hop .attempt.failed .arrow::after { border-left-color: var(--bad); }
.hop .proto { font-weight: 700; }
.hop .when { color: var(--muted); }
.hop .attempt.failed .when { color: var(--bad); }
.legend { font-size: .8rem; color: var(--muted); }

/* transcripts */
.transcript { font-family: var(--mono); font-size: .83rem; background: #0f1623; color: #d6deeb; border-radius: 10px; padding: .8rem 0; overflow-x: auto; }
.transcript .l { display: grid; grid-template-columns: 5.5rem 3rem 1fr; padding: 0 1rem; white-space: pre-wrap; word-break: break-all; }
.transcript .l .t { color: #6c7a91; }
.transcript .l .d { font-weight: 700; }
.transcript .C .d, .transcript .C .x { color: #7fb4ff; }
.transcript .S .d, .transcript .S .x { color: #9be29b; }
.transcript .TLS .d, .transcript .TLS .x { color: #f6c667; }
.transcript .note .d, .transcript .note .x { color: #b39ddb; font-style: italic; }
.transcript .S.err .x { color: #ff8f8f; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; word-break: break-word; }
.steps td.sentence { max-width: 40rem; }
.steps tr.failed td { background: var(--bad-bg); }
.qr svg { width: 180px; height: 180px; }
iframe.mail { width: 100%; min-height: 24rem; border: 1px solid var(--line); border-radius: 8px; background: #fff; }
pre.body { white-space: pre-wrap; word-break: break-word; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1rem; font-family: var(--mono); font-size: .85rem; }
.headers { font-family: var(--mono); font-size: .8rem; max-height: 16rem; overflow: auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .6rem .8rem; white-space: pre-wrap; word-break: break-all; }
details summary { cursor: pointer; color: var(--accent); }
`;
