"""Replays every vector (vectors/journeys/*.json) through the UniFFI Python binding, record
for record, plus a journey written the way a Python SDK author would.

Run by bindings/run-ci with the generated module and the shared library on PYTHONPATH:
    PYTHONPATH=<dir of cobrowse_visitor_uniffi.py and its .so> python3 -m unittest discover -s bindings/uniffi/tests/python
"""
import copy
import enum
import json
import pathlib
import unittest

import cobrowse_visitor_uniffi as cv

ROOT = pathlib.Path(__file__).resolve().parents[4]
VECTORS = sorted((ROOT / "vectors" / "journeys").glob("*.json"))
RANDOM = "GLANCE_KEYTYPE_RANDOM"
ENUM_FIELDS = {"keytype": cv.KeyType, "call": cv.CallName, "code": cv.ErrorCode, "element": cv.UiElement}


# --- vector JSON -> binding values ------------------------------------------------------

def variant(enum_cls, tag, **fields):
    return getattr(enum_cls, tag.upper())(**fields)


def tagged(enum_cls, obj):
    """`{"type": "session_started", "sessionkey": "1"}` -> ServerFrame.SESSION_STARTED(...)."""
    fields = {k: (ENUM_FIELDS[k][v.upper()] if k in ENUM_FIELDS else v) for k, v in obj.items() if k != "type"}
    # fields the JSON leaves out at their default (spec.md §8.2, §14)
    if enum_cls is cv.ServerFrame and obj["type"] == "settings":
        fields.setdefault("agent_start", False)
    if enum_cls is cv.Event and obj["type"] == "presence_connect_fail":
        fields.setdefault("retry_ms", None)
    return variant(enum_cls, obj["type"], **fields)


def start_options(obj):
    """The start options of a `start_session` record or a controller config (each absent at
    its default, spec.md §3.3)."""
    return cv.StartOptions(max_guests=obj.get("max_guests"), paused=obj.get("paused", False),
                           persist=obj.get("persist", True))


def start_options_json(o):
    """StartOptions -> the JSON fields that are not at their defaults."""
    out = {}
    if o.max_guests is not None:
        out["max_guests"] = o.max_guests
    if o.paused:
        out["paused"] = True
    if not o.persist:
        out["persist"] = False
    return out


def api_call(obj):
    """The contract's `api` record -> ApiCall."""
    call = obj["call"]
    if call == "init_visitor":
        return cv.ApiCall.INIT_VISITOR(params=cv.InitParams(
            group_id=obj["group_id"], token=obj.get("token", ""), name=obj.get("name", ""),
            email=obj.get("email", ""), phone=obj.get("phone", ""), visitor_id=obj.get("visitor_id")))
    if call == "start_session":
        if "key" not in obj:
            key = cv.StartKey.VISITOR_ID()
        elif obj["key"] == RANDOM:
            key = cv.StartKey.RANDOM()
        else:
            key = cv.StartKey.CUSTOM(key=obj["key"])
        return cv.ApiCall.START_SESSION(key=key, options=start_options(obj))
    if call == "presence_signal_agent":
        return cv.ApiCall.PRESENCE_SIGNAL_AGENT(event=obj["event"], map=dict(obj.get("map", {})))
    if call == "presence_connect":
        return cv.ApiCall.PRESENCE_CONNECT(max_attempts=obj.get("max_attempts", -1))
    return variant(cv.ApiCall, call, **{k: v for k, v in obj.items() if k != "call"})


def user_intent(obj):
    if isinstance(obj, str):
        return variant(cv.UserIntent, obj)
    (name, fields), = obj.items()
    return variant(cv.UserIntent, name, **fields)


# --- binding values -> vector JSON ------------------------------------------------------

def plain(value):
    if isinstance(value, enum.Enum):
        return value.name.lower()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def vname(obj):
    """An enum variant's name in snake_case (`ClientFrame.INIT` -> `init`)."""
    return type(obj).__name__.rsplit(".", 1)[-1].lower()


def untagged(obj):
    """An enum variant -> `{"type": "<variant>", <fields>}`; `retry_ms` left out when null."""
    fields = {k: plain(v) for k, v in vars(obj).items()}
    if vname(obj) == "presence_connect_fail" and fields.get("retry_ms") is None:
        fields.pop("retry_ms", None)
    # a start's options are written only when not at their defaults (§8.1)
    if vname(obj) == "start_session" and "max_guests" in fields:
        if fields["max_guests"] is None:
            fields.pop("max_guests")
        if not fields.get("paused"):
            fields.pop("paused", None)
    return {"type": vname(obj), **fields}


def api_json(call):
    name = vname(call)
    if name == "init_visitor":
        return {"call": name, **vars(call.params)}
    if name == "start_session":
        key = call.key
        options = start_options_json(call.options)
        if key.is_RANDOM():
            return {"call": name, "key": RANDOM, **options}
        if key.is_CUSTOM():
            return {"call": name, "key": key.key, **options}
        return {"call": name, **options}
    if name == "presence_connect" and call.max_attempts == -1:
        return {"call": name}
    return {"call": name, **{k: plain(v) for k, v in vars(call).items()}}


def sdk_output_json(o):
    if o.is_EVENT():
        return {"event": untagged(o.event)}
    if o.is_TRANSMIT():
        return {"transmit": untagged(o.frame)}
    return {"connect": {}}


def controller_output_json(o):
    if o.is_CALL():
        return {"call": api_json(o.call)}
    if o.is_AGENT_SIGNAL():
        return {"agent_signal": {"event": o.event, "map": dict(o.map)}}
    if o.is_AGENT_MESSAGE():
        return {"agent_message": {"name": o.name, "map": dict(o.map)}}
    d = o.directive
    if d.is_SHOW():
        ui = {"show": plain(d.element)}
        if d.key is not None:
            ui["key"] = d.key
        return {"ui": ui}
    return {"ui": {"hide": plain(d.element)}}


# --- the replay -------------------------------------------------------------------------

def sdk_config(v):
    cfg = dict(v["sdk_config"])
    cfg["consent_policy"] = cv.ConsentPolicy[cfg.get("consent_policy", "terms_required").upper()]
    cfg["limits"] = cv.Limits[cfg.get("limits", "glance5").upper()]
    return cv.SdkConfig(**cfg)


def controller_config(v):
    ccfg = v["controller_config"]
    return cv.ControllerConfig(group_id=ccfg["group_id"], custom_ui=ccfg["custom_ui"],
                               start=start_options(ccfg.get("start", {})))


def new_controller(v):
    limits = cv.Limits[v["controller_config"].get("limits", "glance5").upper()]
    return cv.Controller.with_limits(controller_config(v), limits)


def relaunched_sdk(v, sdk, now, relaunch):
    """The core after the app was killed and relaunched (spec.md §5.6, §13.2 `relaunch`):
    restored from the snapshot the old core gave `away_ms` earlier, or new."""
    if not relaunch["restored"]:
        return cv.Sdk(sdk_config(v))
    snapshot = sdk.snapshot(max(now - relaunch["away_ms"], 0))
    if snapshot is None:
        raise AssertionError("relaunch: no snapshot to restore")
    return cv.Sdk.restore(sdk_config(v), snapshot, v["controller_config"]["group_id"], now, now)


def relaunched_controller(v, c, relaunch):
    """The controller after a relaunch (spec.md §6.1): restored from its own snapshot next
    to the core restored from `sdk_snapshot`, or new when there is none."""
    mine = c.snapshot()
    if relaunch["sdk_snapshot"] is None or mine is None:
        return new_controller(v)
    group_id = v["controller_config"]["group_id"]
    at = relaunch["unix_ms"]
    sdk = cv.Sdk.restore(sdk_config(v), relaunch["sdk_snapshot"], group_id, at, at)
    return cv.Controller.restore(controller_config(v), mine, sdk)


def sdk_step(v, sdk, want):
    """One step; returns the step as the vector writes it and the core after it."""
    now, inp = want["now"], want["input"]
    (kind, arg), = inp.items()
    error = None
    try:
        if kind == "relaunch":
            sdk = relaunched_sdk(v, sdk, now, arg)
        elif kind == "bytes":
            sdk.handle_bytes(now, arg.encode())
        else:
            sdk.handle_input(now, {
                "api": lambda: cv.Input.API(call=api_call(arg)),
                "frame": lambda: cv.Input.FRAME(frame=tagged(cv.ServerFrame, arg)),
                "lifecycle": lambda: cv.Input.LIFECYCLE(change=cv.Lifecycle[arg.upper()]),
                "network": lambda: cv.Input.NETWORK(change=cv.NetworkChange[arg.upper()]),
                "timeout": lambda: cv.Input.TIMEOUT(),
            }[kind]())
    except (cv.SdkError.Api, cv.SdkError.Protocol, cv.SdkError.TimeWentBackwards) as e:
        error = plain(e.code)
    rows = sdk.last_rows()
    outputs = []
    while True:
        o = sdk.poll_output()
        if o.is_TIMEOUT():
            return {"now": now, "input": inp, "error": error, "outputs": outputs, "timeout": o.at_ms, "rows": rows}, sdk
        outputs.append(sdk_output_json(o))


def controller_step(v, c, want):
    """One step; returns the step as the vector writes it and the controller after it."""
    inp = want["input"]
    (kind, arg), = inp.items()
    error = None
    try:
        if kind == "relaunch":
            c = relaunched_controller(v, c, arg)
        else:
            c.handle_input({
                "user": lambda: cv.ControllerInput.USER(intent=user_intent(arg)),
                "lifecycle": lambda: cv.ControllerInput.LIFECYCLE(change=cv.Lifecycle[arg.upper()]),
                "event": lambda: cv.ControllerInput.EVENT(event=tagged(cv.Event, arg)),
            }[kind]())
    except cv.ControllerError.Refused as e:
        error = plain(e.code)
    rows = c.last_rows()
    outputs = []
    while (o := c.poll_output()) is not None:
        outputs.append(controller_output_json(o))
    return {"input": inp, "error": error, "outputs": outputs, "rows": rows}, c


def replay(v):
    """The first mismatch as text, or None."""
    sdk = cv.Sdk(sdk_config(v))
    for i, want in enumerate(v["sdk"]):
        got, sdk = sdk_step(v, sdk, want)
        if got != want:
            return f"sdk step {i}: expected {want}, got {got}"
    c = new_controller(v)
    for i, want in enumerate(v["controller"]):
        got, c = controller_step(v, c, want)
        if got != want:
            return f"controller step {i}: expected {want}, got {got}"
    return None


class Replay(unittest.TestCase):
    def test_there_is_a_vector_per_seed_journey(self):
        self.assertGreaterEqual(len(VECTORS), 11)
        # the relaunch journeys are among them, so the restore path above is replayed
        self.assertTrue(any('"relaunch"' in p.read_text() for p in VECTORS))

    def test_every_vector_replays(self):
        for path in VECTORS:
            with self.subTest(path.name):
                v = json.loads(path.read_text())
                self.assertEqual(v["format"], "cobrowse-replay/1")
                self.assertIsNone(replay(v))

    def test_a_vector_edited_by_one_byte_fails(self):
        text = (ROOT / "vectors" / "journeys" / "oneclick_accepted.json").read_text()
        at = text.index('"guestcount": 1') + len('"guestcount": ')
        edited = json.loads(text[:at] + "2" + text[at + 1:])
        self.assertRegex(replay(edited) or "", r"step \d+")

    def test_refusals_are_typed_exceptions_with_the_code(self):
        sdk = cv.Sdk(cv.default_sdk_config())
        with self.assertRaises(cv.SdkError.Api) as caught:
            sdk.handle_input(0, cv.Input.API(call=cv.ApiCall.END_SESSION()))
        self.assertEqual(caught.exception.code, cv.ErrorCode.NOT_INITIALIZED)


class Journey(unittest.TestCase):
    """The pre-login manual session (one tap on the Cobrowse button), as an app's Python
    integration would drive it: a controller, the core, a fake socket and the clock."""

    def test_prelogin_manual_session(self):
        sdk = cv.Sdk(cv.default_sdk_config())
        app = cv.Controller(cv.ControllerConfig(group_id=19921, custom_ui=True))
        sent, screen, events = [], [], []
        now = 0

        def drain_sdk():
            while not (o := sdk.poll_output()).is_TIMEOUT():
                if o.is_TRANSMIT():
                    sent.append(json.loads(bytes(cv.encode_client_frame(o.frame))))
                elif o.is_EVENT():
                    events.append(o.event)
                    app.handle_input(cv.ControllerInput.EVENT(event=o.event))
                    drain_app()

        def drain_app():
            while (o := app.poll_output()) is not None:
                if o.is_UI():
                    screen.append(o.directive)
                else:
                    sdk.handle_input(now, cv.Input.API(call=o.call))
                    drain_sdk()

        def user(intent):
            app.handle_input(cv.ControllerInput.USER(intent=intent))
            drain_app()

        def server(frame):
            sdk.handle_bytes(now, json.dumps(frame).encode())
            drain_sdk()

        user(cv.UserIntent.LAUNCH())
        self.assertEqual(sent[-1]["type"], "init")
        server({"type": "settings", "v": 1, "key_length": 4})
        self.assertEqual(screen[-1], cv.UiDirective.SHOW(element=cv.UiElement.COBROWSE_BUTTON, key=None))
        user(cv.UserIntent.TAP_COBROWSE())
        self.assertEqual(sent[-1], {"type": "start_session", "key": None})
        now = 40
        server({"type": "session_started", "sessionkey": "4821"})
        self.assertEqual(events[-1], cv.Event.CONNECTED_TO_SESSION(sessionkey="4821", keytype=cv.KeyType.RANDOM))
        self.assertEqual(cv.event_code(events[-1]), "EventConnectedToSession")
        self.assertIn(cv.UiDirective.SHOW(element=cv.UiElement.SESSION_KEY, key="4821"), screen)
        server({"type": "guest_count", "guestcount": 1})
        self.assertEqual(cv.event_properties(events[-1]), {"guestcount": "1"})
        now = 30_040
        server({"type": "session_ended", "reason": "agent_ended"})
        self.assertEqual(events[-1], cv.Event.SESSION_ENDED(reason="agent_ended"))
        self.assertEqual(sdk.state().session, "idle")

    def test_oneclick_accepted(self):
        """Login, presence, an agent's one-click request, terms displayed and accepted, a
        session with the visitor id as key, whose key is never shown."""
        sdk = cv.Sdk(cv.default_sdk_config())
        app = cv.Controller(cv.ControllerConfig(group_id=19921, custom_ui=True))
        sent, screen, events = [], [], []

        def drain_sdk():
            while not (o := sdk.poll_output()).is_TIMEOUT():
                if o.is_TRANSMIT():
                    sent.append(json.loads(bytes(cv.encode_client_frame(o.frame))))
                elif o.is_EVENT():
                    events.append(o.event)
                    app.handle_input(cv.ControllerInput.EVENT(event=o.event))
                    drain_app()

        def drain_app():
            while (o := app.poll_output()) is not None:
                if o.is_UI():
                    screen.append(o.directive)
                else:
                    sdk.handle_input(0, cv.Input.API(call=o.call))
                    drain_sdk()

        def user(intent):
            app.handle_input(cv.ControllerInput.USER(intent=intent))
            drain_app()

        def server(frame):
            sdk.handle_bytes(0, json.dumps(frame).encode())
            drain_sdk()

        user(cv.UserIntent.LAUNCH())
        server({"type": "settings", "v": 1, "key_length": 4})
        user(cv.UserIntent.LOGIN(visitor_id="cust-42"))
        self.assertEqual(sent[-1]["visitor_id"], "cust-42")
        server({"type": "settings", "v": 1, "key_length": 4})
        self.assertEqual(sent[-1], {"type": "presence_connect", "visitor_id": "cust-42"})
        server({"type": "presence_connected"})
        server({"type": "presence_show_terms", "request_id": 7})
        self.assertIn(cv.UiDirective.SHOW(element=cv.UiElement.TERMS, key=None), screen)
        self.assertEqual(sent[-1]["map"], {"status": "displayed"})
        self.assertEqual(sent[-1]["request_id"], 7)
        user(cv.UserIntent.ACCEPT_TERMS())
        self.assertEqual(sent[-2]["map"], {"status": "accepted"})
        self.assertEqual(sent[-1], {"type": "start_session", "key": "cust-42"})
        server({"type": "session_started", "sessionkey": "cust-42"})
        self.assertEqual(events[-1], cv.Event.CONNECTED_TO_SESSION(sessionkey="cust-42", keytype=cv.KeyType.VISITOR_ID))
        self.assertIn(cv.UiDirective.SHOW(element=cv.UiElement.SESSION_INDICATOR, key=None), screen)
        self.assertFalse(any(d.is_SHOW() and d.element == cv.UiElement.SESSION_KEY for d in screen), screen)


if __name__ == "__main__":
    unittest.main()
