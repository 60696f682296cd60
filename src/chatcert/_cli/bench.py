"""`chatcert bench`: latency of an endpoint (or the embedded mock), history and a regression gate."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from chatcert import interrupt, targets
from chatcert._cli._common import (
    add_no_budget,
    add_target_options,
    parse_claims,
    positive_float,
    positive_int,
    require_spending_decision,
    writable_dir,
)
from chatcert.bench import (
    DEFAULT_SCENARIO,
    BenchConfig,
    LevelSpec,
    NullProgress,
    ProgressBar,
    load_payloads,
    load_saved,
    parse_rules,
    parse_scenario,
    scenario_header,
)
from chatcert.bench.ray_workers import import_ray, run_bench_ray
from chatcert.bench.records import check_name, history_dir
from chatcert.bench.reporter import BenchReporter
from chatcert.bench.transport import DEFAULT_MAX_BODY_BYTES
from chatcert.bench.workers import run_bench_on_workers
from chatcert.budget import Budget
from chatcert.errors import TargetError, UsageError
from chatcert.profiles import load_profile
from chatcert.reporting.bench import BenchConsole, BenchGate, BenchReportWriter
from chatcert.wire.scenario import SCENARIO_HEADER

_DEFAULT_SCENARIO = scenario_header(DEFAULT_SCENARIO)


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of whole numbers") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: every value must be at least 1")
    return values


def _float_list(text: str) -> list[float]:
    return [positive_float(v) for v in text.split(",") if v.strip()] or [positive_float(text)]


def _temperature(text: str) -> float:
    # float() takes "nan" and "inf", which json.dumps would send as the invalid JSON tokens NaN/Infinity.
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number, 0 or more")
    return value


def _workers(text: str) -> int:
    """`--workers`: a count, or 0 for auto (resolved once the mock's cores are known)."""
    if text == "auto":
        return 0
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of workers or auto, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("--workers must be at least 1 (or auto)")
    return value


def _bool(text: str) -> bool:
    if text.lower() in ("true", "yes", "1"):
        return True
    if text.lower() in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not true or false")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="measure latency (TTFT, ITL, TPOT, E2E, throughput) and gate on regressions",
        description="Send streaming chat requests at fixed concurrency levels (or Poisson arrivals "
        "with --rate), report TTFT, ITL, TPOT, E2E and throughput percentiles, write "
        "bench.json, bench.html and SVG charts, save runs to the history and compare with one. "
        "Without --endpoint the embedded mock runs in its own process with a known latency "
        "scenario. Exit 0 ok, 1 a --fail-on gate tripped or the target failed, 2 unusable "
        "input, 3 the harness broke.",
    )
    add_target_options(
        p, target_is_mock="the --endpoint is a chatcert mock: send --mock-scenario to it as X-Mock-Scenario"
    )
    load = p.add_argument_group("load")
    load.add_argument(
        "--concurrency",
        type=_int_list,
        metavar="N[,N...]",
        help="fixed-concurrency levels [default: 1,4,16]; with --rate: a cap on requests in flight",
    )
    load.add_argument(
        "--rate",
        type=_float_list,
        metavar="R[,R...]",
        help="Poisson arrivals at R requests/s (open loop: no coordinated omission), one level per R",
    )
    size = load.add_mutually_exclusive_group()
    size.add_argument(
        "--requests", type=positive_int, metavar="N", help="measured requests per level [default: 50]"
    )
    size.add_argument("--duration", type=positive_float, metavar="S", help="measure each level for S seconds")
    load.add_argument(
        "--warmup",
        type=int,
        metavar="N",
        help="requests per level sent first and not counted "
        "[default: the level's concurrency; 2 with --rate]",
    )
    load.add_argument(
        "--ramp-up",
        type=float,
        default=0.0,
        metavar="S",
        help="closed loop: start the workers evenly over S seconds, so their streams run out of phase "
        "as independent users do (a deterministic server otherwise keeps them in lockstep) [default: 0]",
    )
    load.add_argument("--seed", type=int, default=0, help="seed of the Poisson arrival times [default: 0]")
    req = p.add_argument_group("requests")
    req.add_argument(
        "--payload",
        default="text",
        metavar="text|image|image:WxH|FILE",
        help="what to send: a short text prompt, a 64x64 PNG, a generated WxH PNG, or a JSON file of "
        "request bodies (object, array or JSON lines) [default: text]",
    )
    req.add_argument(
        "--max-output-tokens",
        type=positive_int,
        default=128,
        metavar="N",
        help="max_tokens of each request [default: 128]",
    )
    req.add_argument("--temperature", type=_temperature, metavar="T", help="temperature of each request")
    req.add_argument("--cache-prompt", type=_bool, metavar="BOOL", help="send cache_prompt (llama.cpp)")
    req.add_argument("--no-stream", action="store_true", help="non-stream requests (TTFT then equals E2E)")
    req.add_argument(
        "--mock-scenario",
        metavar="SPEC",
        help=f"latency scenario of the embedded mock [default: {_DEFAULT_SCENARIO}]; with --endpoint "
        "and --target-is-mock it is sent as X-Mock-Scenario",
    )
    req.add_argument(
        "--no-pin", action="store_true", help="do not pin the mock and the client to separate cores"
    )
    req.add_argument(
        "--workers",
        type=_workers,
        default=None,
        metavar="N|auto",
        help="client processes, each pinned to a core of its own with its own event loop, sharing each "
        "level's concurrency or rate; auto: the usable cores less the embedded mock's [default: 1; "
        "with --ray: --workers-per-node on every node]",
    )
    req.add_argument(
        "--ray",
        metavar="ADDRESS|auto",
        help="run the workers as Ray actors across the cluster at ADDRESS (auto: the local cluster, or one "
        "started for the run); needs pip install 'chatcert[ray]'",
    )
    req.add_argument(
        "--workers-per-node",
        type=positive_int,
        default=1,
        metavar="N",
        help="with --ray: workers placed on each node [default: 1]",
    )
    req.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="the client's event loop; uvloop must be installed [default: asyncio]",
    )
    req.add_argument(
        "--stamps",
        choices=("kernel", "loop"),
        default="kernel",
        help="what stamps each read's arrival: the kernel (SO_TIMESTAMPNS; Linux, plain http; elsewhere "
        "the loop) or the event loop (perf_counter() in the read callback) [default: kernel]",
    )
    bud = p.add_argument_group("budget and bounds")
    bud.add_argument("--max-requests", type=positive_int, metavar="N", help="hard limit on requests sent")
    bud.add_argument("--max-tokens", type=positive_int, metavar="N", help="hard limit on output tokens")
    add_no_budget(bud)
    bud.add_argument(
        "--timeout", type=positive_float, default=60.0, metavar="S", help="deadline per request [default: 60]"
    )
    bud.add_argument(
        "--stall-timeout",
        type=positive_float,
        default=20.0,
        metavar="S",
        help="abort a silent response [default: 20]",
    )
    bud.add_argument(
        "--max-body-bytes",
        type=positive_int,
        default=DEFAULT_MAX_BODY_BYTES,
        metavar="N",
        help=f"fail a request whose response body is larger [default: {DEFAULT_MAX_BODY_BYTES}]",
    )
    hist = p.add_argument_group("history and gate")
    hist.add_argument("--save", metavar="NAME", help="save this run as NAME in the history")
    hist.add_argument("--compare", metavar="NAME", help="compare with the saved run NAME (or a record file)")
    hist.add_argument(
        "--fail-on",
        action="append",
        default=[],
        metavar="RULE",
        help="with --compare: exit 1 when a rule trips, e.g. p95:+10%% (TTFT p95), itl.p99:+5%%, "
        "e2e.p50:+20ms, rps:-10%% (repeatable or comma-separated)",
    )
    hist.add_argument(
        "--history-dir",
        metavar="DIR",
        help="where saved runs live [default: .chatcert/bench; env CHATCERT_BENCH_DIR]",
    )
    out = p.add_argument_group("output")
    out.add_argument(
        "--report-dir",
        default="chatcert-report",
        metavar="DIR",
        help="where to write bench.* [default: chatcert-report]",
    )
    out.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    out.add_argument("-q", "--quiet", action="store_true", help="only the verdict lines")
    p.set_defaults(func=run)


def _levels(args: argparse.Namespace) -> list[LevelSpec]:
    requests = None if args.duration else (args.requests or 50)
    if args.warmup is not None and args.warmup < 0:
        raise UsageError("--warmup must be 0 or more")
    if not 0 <= args.ramp_up < float("inf"):
        raise UsageError("--ramp-up must be 0 or more seconds")
    if args.rate:
        if args.ramp_up:
            raise UsageError("--ramp-up spreads --concurrency workers; Poisson arrivals need no ramp")
        caps = args.concurrency or [None]
        if len(caps) > 1:
            raise UsageError("with --rate, --concurrency is one cap on requests in flight, not a list")
        warm = 2 if args.warmup is None else args.warmup
        return [LevelSpec(caps[0], rate, requests, args.duration, warm) for rate in args.rate]
    return [
        LevelSpec(c, None, requests, args.duration, c if args.warmup is None else args.warmup, args.ramp_up)
        for c in (args.concurrency or [1, 4, 16])
    ]


def _check_outputs(args: argparse.Namespace) -> None:
    """Where the results go must be writable before the run, not found out after it (exit 2, not 3).

    Called last, once every other input is known to be good, since it creates the folders. The history
    is written only with --save: without it a read-only history folder is fine.
    """
    writable_dir(args.report_dir, "--report-dir")
    if args.save:
        writable_dir(str(history_dir(args.history_dir)), "--history-dir")
    # The previous run's results go as this one starts: the folder never shows an older run's figures
    # under a run that was then interrupted or killed.
    folder = Path(args.report_dir)
    for old in (folder / "bench.json", folder / "bench.html", *folder.glob("bench-*.svg")):
        old.unlink(missing_ok=True)


def _warn(message: str) -> None:
    print(f"chatcert: WARNING: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    if args.save:
        check_name(args.save)  # before any request: a paid run must not be billed and then not saved
    rules = parse_rules(args.fail_on)
    if rules and not args.compare:
        raise UsageError("--fail-on needs --compare NAME (the saved run to compare with)")
    baseline = load_saved(args.compare, args.history_dir) if args.compare else None
    levels = _levels(args)
    if baseline is not None:
        known = [str(lv.get("label")) for lv in baseline["levels"]]
        if not {lv.label for lv in levels} & set(known):
            raise UsageError(
                f"no level of this run matches one of {args.compare!r} ({', '.join(known)}); "
                "compare like with like"
            )
    if args.ray:
        import_ray()  # before any request or mock: without the extra, say how to install it (exit 2)
    elif args.workers_per_node != 1:
        raise UsageError("--workers-per-node goes with --ray")
    payloads = load_payloads(args.payload)
    profile = load_profile(args.profile).with_claims(parse_claims(args.claim))
    require_spending_decision(args, profile)
    route = profile.route("chat")
    if not route:
        raise UsageError(f"profile {profile.name!r} has no chat route")
    scenario = parse_scenario(args.mock_scenario) if args.mock_scenario else dict(DEFAULT_SCENARIO)
    progress = NullProgress() if args.no_progress or args.quiet else ProgressBar()
    config = BenchConfig(
        base_url="",
        model=args.model or profile.model,
        levels=levels,
        payloads=payloads,
        route=route,
        profile=profile.name,
        payload_spec=args.payload,
        stream=not args.no_stream,
        max_tokens=args.max_output_tokens,
        temperature=args.temperature,
        cache_prompt=args.cache_prompt,
        include_usage=profile.claims_capability("stream_usage"),
        deadline_s=args.timeout,
        stall_s=min(args.stall_timeout, args.timeout),
        max_body_bytes=args.max_body_bytes,
        seed=args.seed,
        budget=Budget(max_requests=args.max_requests, max_tokens=args.max_tokens),
        progress=progress,
        name=args.save,
        loop=args.loop,
        kernel_stamps=args.stamps == "kernel",
    )
    gate = (
        BenchGate(baseline, str(baseline.get("name") or args.compare), rules)
        if baseline is not None
        else None
    )
    writer = BenchReportWriter(
        args.report_dir, history_dir=args.history_dir, save=args.save, gate=gate, warn=_warn
    )
    # The run hands its events to these: they write the report, the history entry and the console view.
    reporters: list[BenchReporter] = [writer, BenchConsole(writer, quiet=args.quiet)]
    _check_outputs(args)
    with targets.open_target(
        profile,
        endpoint=args.endpoint,
        api_key_env=args.api_key_env,
        api_key_file=args.api_key_file,
        target_is_mock=bool(args.target_is_mock),
        insecure=args.insecure,
        mock_process=scenario,
        pin=not args.no_pin,
    ) as target:
        config.base_url, config.is_mock = target.url, target.is_mock
        config.verify_tls, config.headers, config.machine = (
            target.verify_tls,
            target.auth_headers(),
            target.machine,
        )
        if args.insecure and args.endpoint:
            print("chatcert: WARNING: TLS certificate verification is OFF (--insecure)", file=sys.stderr)
        if not args.endpoint or (args.target_is_mock and args.mock_scenario):
            if args.endpoint:  # a mock of the user's own: the scenario travels in each request
                config.headers[SCENARIO_HEADER] = scenario_header(scenario)
            config.scenario = scenario
        if args.ray:
            record = run_bench_ray(
                config,
                args.ray,
                workers=args.workers,
                workers_per_node=args.workers_per_node,
                warn=_warn,
                reporters=reporters,
            )
        else:
            workers = 1 if args.workers is None else args.workers
            record = run_bench_on_workers(config, workers, warn=_warn, reporters=reporters)
    if record.get("interrupted"):
        return _interrupted(args, record, writer)
    return _verdict(args, record, gate)


def _interrupted(args: argparse.Namespace, record: dict[str, Any], writer: BenchReportWriter) -> int:
    """The finished levels are in the report (the history is for whole runs only): say where."""
    done = ", ".join(str(lvl["label"]) for lvl in record["levels"]) or "none"
    refused = f"; not saved as {args.save!r} (the history keeps whole runs only)" if args.save else ""
    print(
        f"chatcert: interrupted ({record['interrupted']}): finished level(s) {done} kept in "
        f"{writer.written[0]}{refused}",
        file=sys.stderr,
    )
    return interrupt.exit_code_for(str(record["interrupted"]))


def _verdict(args: argparse.Namespace, record: dict[str, Any], gate: BenchGate | None) -> int:
    """The exit code of a whole run, its report already written by the reporters."""
    if gate is not None and gate.tripped:
        names = ", ".join(
            f"{c.level} {c.rule.key} {c.change:+.1f}{'%' if c.rule.relative else ''}" for c in gate.tripped
        )
        print(f"chatcert: regression gate tripped: {names}", file=sys.stderr)
        return 1
    failed_levels = [lvl["label"] for lvl in record["levels"] if lvl["ok"] == 0]
    if failed_levels or not record["levels"]:
        raise TargetError(f"no request succeeded at level(s) {', '.join(failed_levels) or '-'}")
    if not args.quiet and gate is not None and gate.enforced:
        print("gate held")
    return 0
