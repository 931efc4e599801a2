// Replays every vector (vectors/journeys/*.json) through the UniFFI Kotlin binding, record
// for record, plus a journey written the way a Kotlin SDK author would. Compiled with the
// generated binding and run on the JVM by bindings/run-ci:
//   java -Djna.library.path=<dir of the .so> -cp replay.jar:jna.jar:kotlin-stdlib.jar ReplayKt <vectors dir>
import uniffi.cobrowse_visitor_uniffi.*
import java.io.File
import kotlin.system.exitProcess

// --- a small JSON reader (no library is reachable here): Map, List, String, Long, Boolean, null

class Json(private val s: String) {
    private var i = 0
    fun parse(): Any? { val v = value(); ws(); require(i == s.length) { "trailing text at $i" }; return v }
    private fun ws() { while (i < s.length && s[i].isWhitespace()) i++ }
    private fun value(): Any? {
        ws()
        return when (val c = s[i]) {
            '{' -> { i++; val m = LinkedHashMap<String, Any?>(); ws()
                if (s[i] == '}') { i++; return m }
                while (true) { ws(); val k = str(); ws(); require(s[i++] == ':'); m[k] = value(); ws()
                    if (s[i++] == '}') return m } 
                @Suppress("UNREACHABLE_CODE") m }
            '[' -> { i++; val l = ArrayList<Any?>(); ws()
                if (s[i] == ']') { i++; return l }
                while (true) { l.add(value()); ws(); if (s[i++] == ']') return l }
                @Suppress("UNREACHABLE_CODE") l }
            '"' -> str()
            't' -> { i += 4; true }
            'f' -> { i += 5; false }
            'n' -> { i += 4; null }
            else -> { val st = i; while (i < s.length && (s[i] == '-' || s[i].isDigit())) i++
                require(i > st) { "unexpected '$c' at $st" }; s.substring(st, i).toLong() }
        }
    }
    private fun str(): String {
        require(s[i++] == '"'); val b = StringBuilder()
        while (s[i] != '"') {
            if (s[i] == '\\') { i++; when (val e = s[i++]) {
                'n' -> b.append('\n'); 't' -> b.append('\t'); 'r' -> b.append('\r'); 'b' -> b.append('\b')
                'f' -> b.append('\u000c'); 'u' -> { b.append(s.substring(i, i + 4).toInt(16).toChar()); i += 4 }
                else -> b.append(e) } } else b.append(s[i++])
        }
        i++; return b.toString()
    }
}

typealias Obj = Map<String, Any?>
@Suppress("UNCHECKED_CAST") fun Any?.obj() = this as Obj
@Suppress("UNCHECKED_CAST") fun Any?.list() = this as List<Any?>
fun Any?.str() = this as String
fun Any?.long() = this as Long
fun Obj.one(): Pair<String, Any?> = entries.single().toPair()

fun snake(name: String) = name.lowercase()
fun <E : Enum<E>> enumOf(values: Array<E>, name: String): E = values.single { it.name == name.uppercase() }

// --- vector JSON -> binding values

/** The start options of a `start_session` record or a controller config (each absent at its
 *  default, spec.md §3.3). */
fun startOptions(o: Obj) = StartOptions((o["max_guests"] as Long?)?.let { Math.toIntExact(it) },
    (o["paused"] ?: false) as Boolean, (o["persist"] ?: true) as Boolean)

/** StartOptions -> the JSON fields that are not at their defaults. */
fun startOptionsJson(o: StartOptions): Obj = (o.maxGuests?.let { mapOf("max_guests" to it.toLong()) } ?: emptyMap()) +
    (if (o.paused) mapOf("paused" to true) else emptyMap()) + (if (!o.persist) mapOf("persist" to false) else emptyMap())

fun apiCall(o: Obj): ApiCall = when (o["call"].str()) {
    "init_visitor" -> ApiCall.InitVisitor(InitParams(Math.toIntExact(o["group_id"].long()), (o["token"] ?: "").str(),
        (o["name"] ?: "").str(), (o["email"] ?: "").str(), (o["phone"] ?: "").str(), o["visitor_id"] as String?))
    "set_default_ui" -> ApiCall.SetDefaultUi(o["enabled"] as Boolean)
    "start_session" -> ApiCall.StartSession(when (val k = o["key"]) {
        null -> StartKey.VisitorId; "GLANCE_KEYTYPE_RANDOM" -> StartKey.Random; else -> StartKey.Custom(k.str()) },
        startOptions(o))
    "end_session" -> ApiCall.EndSession
    "presence_connect" -> ApiCall.PresenceConnect(Math.toIntExact((o["max_attempts"] ?: -1L).long()))
    "presence_set_default_ui" -> ApiCall.PresenceSetDefaultUi(o["enabled"] as Boolean)
    "presence_signal_agent" -> ApiCall.PresenceSignalAgent(o["event"].str(),
        ((o["map"] ?: emptyMap<String, Any?>()).obj()).mapValues { it.value.str() })
    "presence_disconnect" -> ApiCall.PresenceDisconnect
    "presence_data" -> ApiCall.PresenceData(((o["map"] ?: emptyMap<String, Any?>()).obj()).mapValues { it.value.str() })
    "presence_signal_visibility" -> ApiCall.PresenceSignalVisibility(o["visible"] as Boolean)
    "pause" -> ApiCall.Pause(o["paused"] as Boolean)
    "send_user_message" -> ApiCall.SendUserMessage(o["name"].str(), ((o["map"] ?: emptyMap<String, Any?>()).obj()).mapValues { it.value.str() })
    "set_user_state" -> ApiCall.SetUserState(o["name"].str(), o["value"].str())
    else -> error("unknown call $o")
}

fun serverFrame(o: Obj): ServerFrame = when (o["type"].str()) {
    "settings" -> ServerFrame.Settings(o["v"].long().toUInt(), o["key_length"].long().toUByte(),
        (o["agent_start"] ?: false) as Boolean)
    "init_failed" -> ServerFrame.InitFailed(o["reason"].str())
    "session_started" -> ServerFrame.SessionStarted(o["sessionkey"].str())
    "session_refused" -> ServerFrame.SessionRefused(o["reason"].str())
    "guest_count" -> ServerFrame.GuestCount(o["guestcount"].long().toUInt())
    "session_ended" -> ServerFrame.SessionEnded(o["reason"].str())
    "presence_connected" -> ServerFrame.PresenceConnected
    "presence_connect_failed" -> ServerFrame.PresenceConnectFailed(o["reason"].str())
    "presence_show_terms" -> ServerFrame.PresenceShowTerms(o["request_id"].long().toULong())
    "presence_blur" -> ServerFrame.PresenceBlur
    "presence_signal" -> ServerFrame.PresenceSignal(o["event"].str(), ((o["map"] ?: emptyMap<String, Any?>()).obj()).mapValues { it.value.str() })
    "presence_start_session" -> ServerFrame.PresenceStartSession(o["request_id"].long().toULong())
    "presence_not_configured" -> ServerFrame.PresenceNotConfigured
    "user_message" -> ServerFrame.UserMessage(o["name"].str(), ((o["map"] ?: emptyMap<String, Any?>()).obj()).mapValues { it.value.str() })
    else -> error("unknown frame $o")
}

fun event(o: Obj): Event = when (o["type"].str()) {
    "visitor_initialized" -> Event.VisitorInitialized(o["settings_loaded"] as Boolean)
    "connected_to_session" -> Event.ConnectedToSession(o["sessionkey"].str(), enumOf(KeyType.values(), o["keytype"].str()))
    "guest_count_change" -> Event.GuestCountChange(o["guestcount"].long().toUInt())
    "session_ended" -> Event.SessionEnded(o["reason"].str())
    "start_session_failed" -> Event.StartSessionFailed(o["reason"].str())
    "invalid_parameter" -> Event.InvalidParameter(enumOf(CallName.values(), o["call"].str()), enumOf(ErrorCode.values(), o["code"].str()))
    "invalid_state" -> Event.InvalidState(enumOf(CallName.values(), o["call"].str()), enumOf(ErrorCode.values(), o["code"].str()))
    "presence_connected" -> Event.PresenceConnected
    "presence_connect_fail" -> Event.PresenceConnectFail(o["reason"].str(), (o["retry_ms"] as Long?)?.toULong())
    "presence_show_terms" -> Event.PresenceShowTerms(o["request_id"].long().toULong())
    "presence_disconnected" -> Event.PresenceDisconnected
    "presence_blur" -> Event.PresenceBlur
    "connection_warning" -> Event.ConnectionWarning
    "clear_warning" -> Event.ClearWarning
    "presence_signal" -> Event.PresenceSignal(o["event"].str(), ((o["map"] ?: emptyMap<String, Any?>()).obj()).mapValues { it.value.str() })
    "presence_start_session" -> Event.PresenceStartSession(o["request_id"].long().toULong())
    "presence_not_configured" -> Event.PresenceNotConfigured
    "presence_send_fail" -> Event.PresenceSendFail(enumOf(CallName.values(), o["call"].str()), enumOf(ErrorCode.values(), o["code"].str()))
    "message_received" -> Event.MessageReceived(o["name"].str(), ((o["map"] ?: emptyMap<String, Any?>()).obj()).mapValues { it.value.str() })
    else -> error("unknown event $o")
}

fun userIntent(v: Any?): UserIntent = when (v) {
    "launch" -> UserIntent.Launch; "tap_cobrowse" -> UserIntent.TapCobrowse
    "accept_terms" -> UserIntent.AcceptTerms; "decline_terms" -> UserIntent.DeclineTerms
    "end_session" -> UserIntent.EndSession; "logout" -> UserIntent.Logout; "exit" -> UserIntent.Exit
    "toggle_pause" -> UserIntent.TogglePause
    else -> v.obj().one().let { (name, fields) -> when (name) {
        "login" -> UserIntent.Login(fields.obj()["visitor_id"].str())
        "presence_data" -> UserIntent.PresenceData(fields.obj()["map"].obj().mapValues { it.value.str() })
        "send_message" -> UserIntent.SendMessage(fields.obj()["name"].str(), fields.obj()["map"].obj().mapValues { it.value.str() })
        "set_user_state" -> UserIntent.SetUserState(fields.obj()["name"].str(), fields.obj()["value"].str())
        else -> error("unknown intent $v") } }
}

// --- binding values -> vector JSON

fun eventJson(e: Event): Obj = when (e) {
    is Event.VisitorInitialized -> mapOf("type" to "visitor_initialized", "settings_loaded" to e.settingsLoaded)
    is Event.ConnectedToSession -> mapOf("type" to "connected_to_session", "sessionkey" to e.sessionkey, "keytype" to snake(e.keytype.name))
    is Event.GuestCountChange -> mapOf("type" to "guest_count_change", "guestcount" to e.guestcount.toLong())
    is Event.SessionEnded -> mapOf("type" to "session_ended", "reason" to e.reason)
    is Event.StartSessionFailed -> mapOf("type" to "start_session_failed", "reason" to e.reason)
    is Event.InvalidParameter -> mapOf("type" to "invalid_parameter", "call" to snake(e.call.name), "code" to snake(e.code.name))
    is Event.InvalidState -> mapOf("type" to "invalid_state", "call" to snake(e.call.name), "code" to snake(e.code.name))
    is Event.PresenceConnected -> mapOf("type" to "presence_connected")
    is Event.PresenceConnectFail -> mapOf("type" to "presence_connect_fail", "reason" to e.reason) +
        (e.retryMs?.let { mapOf("retry_ms" to it.toLong()) } ?: emptyMap())
    is Event.PresenceShowTerms -> mapOf("type" to "presence_show_terms", "request_id" to e.requestId.toLong())
    is Event.PresenceDisconnected -> mapOf("type" to "presence_disconnected")
    is Event.PresenceBlur -> mapOf("type" to "presence_blur")
    is Event.ConnectionWarning -> mapOf("type" to "connection_warning")
    is Event.ClearWarning -> mapOf("type" to "clear_warning")
    is Event.PresenceSignal -> mapOf("type" to "presence_signal", "event" to e.event, "map" to e.map)
    is Event.PresenceStartSession -> mapOf("type" to "presence_start_session", "request_id" to e.requestId.toLong())
    is Event.PresenceNotConfigured -> mapOf("type" to "presence_not_configured")
    is Event.PresenceSendFail -> mapOf("type" to "presence_send_fail", "call" to snake(e.call.name), "code" to snake(e.code.name))
    is Event.MessageReceived -> mapOf("type" to "message_received", "name" to e.name, "map" to e.map)
}

fun frameJson(f: ClientFrame): Obj = when (f) {
    is ClientFrame.Init -> mapOf("type" to "init", "v" to f.v.toLong(), "group_id" to f.groupId.toLong(), "token" to f.token,
        "name" to f.name, "email" to f.email, "phone" to f.phone, "visitor_id" to f.visitorId)
    is ClientFrame.StartSession -> mapOf("type" to "start_session", "key" to f.key) +
        (f.maxGuests?.let { mapOf("max_guests" to it.toLong()) } ?: emptyMap()) + (if (f.paused) mapOf("paused" to true) else emptyMap())
    is ClientFrame.EndSession -> mapOf("type" to "end_session")
    is ClientFrame.ResumeSession -> mapOf("type" to "resume_session", "sessionkey" to f.sessionkey)
    is ClientFrame.PresenceConnect -> mapOf("type" to "presence_connect", "visitor_id" to f.visitorId)
    is ClientFrame.PresenceDisconnect -> mapOf("type" to "presence_disconnect")
    is ClientFrame.PresenceSignal -> mapOf("type" to "presence_signal", "event" to f.event, "map" to f.map, "request_id" to f.requestId?.toLong())
    is ClientFrame.AppState -> mapOf("type" to "app_state", "foreground" to f.foreground)
    is ClientFrame.PresenceData -> mapOf("type" to "presence_data", "map" to f.map)
    is ClientFrame.PresenceVisibility -> mapOf("type" to "presence_visibility", "visible" to f.visible)
    is ClientFrame.Pause -> mapOf("type" to "pause", "paused" to f.paused)
    is ClientFrame.UserMessage -> mapOf("type" to "user_message", "name" to f.name, "map" to f.map)
    is ClientFrame.UserState -> mapOf("type" to "user_state", "state" to f.state)
}

fun apiJson(c: ApiCall): Obj = when (c) {
    is ApiCall.InitVisitor -> c.params.let { mapOf("call" to "init_visitor", "group_id" to it.groupId.toLong(), "token" to it.token,
        "name" to it.name, "email" to it.email, "phone" to it.phone, "visitor_id" to it.visitorId) }
    is ApiCall.SetDefaultUi -> mapOf("call" to "set_default_ui", "enabled" to c.enabled)
    is ApiCall.StartSession -> when (val k = c.key) {
        is StartKey.VisitorId -> mapOf("call" to "start_session")
        is StartKey.Random -> mapOf("call" to "start_session", "key" to "GLANCE_KEYTYPE_RANDOM")
        is StartKey.Custom -> mapOf("call" to "start_session", "key" to k.key) } + startOptionsJson(c.options)
    is ApiCall.EndSession -> mapOf("call" to "end_session")
    is ApiCall.PresenceConnect -> if (c.maxAttempts == -1) mapOf("call" to "presence_connect")
        else mapOf("call" to "presence_connect", "max_attempts" to c.maxAttempts.toLong())
    is ApiCall.PresenceSetDefaultUi -> mapOf("call" to "presence_set_default_ui", "enabled" to c.enabled)
    is ApiCall.PresenceSignalAgent -> mapOf("call" to "presence_signal_agent", "event" to c.event, "map" to c.map)
    is ApiCall.PresenceDisconnect -> mapOf("call" to "presence_disconnect")
    is ApiCall.PresenceData -> mapOf("call" to "presence_data", "map" to c.map)
    is ApiCall.PresenceSignalVisibility -> mapOf("call" to "presence_signal_visibility", "visible" to c.visible)
    is ApiCall.Pause -> mapOf("call" to "pause", "paused" to c.paused)
    is ApiCall.SendUserMessage -> mapOf("call" to "send_user_message", "name" to c.name, "map" to c.map)
    is ApiCall.SetUserState -> mapOf("call" to "set_user_state", "name" to c.name, "value" to c.value)
}

fun controllerOutputJson(o: ControllerOutput): Obj = when (o) {
    is ControllerOutput.Call -> mapOf("call" to apiJson(o.call))
    is ControllerOutput.Ui -> when (val d = o.directive) {
        is UiDirective.Show -> mapOf("ui" to (mapOf("show" to snake(d.element.name)) + (d.key?.let { mapOf("key" to it) } ?: emptyMap())))
        is UiDirective.Hide -> mapOf("ui" to mapOf("hide" to snake(d.element.name)))
    }
    is ControllerOutput.AgentSignal -> mapOf("agent_signal" to mapOf("event" to o.event, "map" to o.map))
    is ControllerOutput.AgentMessage -> mapOf("agent_message" to mapOf("name" to o.name, "map" to o.map))
}

// --- the replay

/** The vector's SDK configuration. */
fun sdkConfig(v: Obj): SdkConfig {
    val sc = v["sdk_config"].obj()
    val ms = { k: String -> sc[k].long().toULong() }
    return SdkConfig(ms("init_timeout_ms"), ms("start_timeout_ms"), ms("end_timeout_ms"), ms("session_grace_ms"),
        ms("presence_connect_timeout_ms"), ms("presence_backoff_base_ms"), ms("presence_backoff_max_ms"),
        ms("reconnect_backoff_base_ms"), ms("reconnect_backoff_max_ms"), ms("background_suspend_ms"),
        sc["default_key_length"].long().toUByte(),
        enumOf(ConsentPolicy.values(), (sc["consent_policy"] ?: "terms_required").str()),
        enumOf(Limits.values(), (sc["limits"] ?: "glance5").str()))
}

fun groupId(v: Obj) = Math.toIntExact(v["controller_config"].obj()["group_id"].long())

/** The vector's controller configuration. */
fun controllerConfig(v: Obj): ControllerConfig {
    val cc = v["controller_config"].obj()
    return ControllerConfig(groupId(v), cc["custom_ui"] as Boolean, startOptions((cc["start"] ?: emptyMap<String, Any?>()).obj()))
}

/** A new controller for the vector's configuration. */
fun newController(v: Obj): Controller {
    val cc = v["controller_config"].obj()
    return Controller.withLimits(controllerConfig(v), enumOf(Limits.values(), (cc["limits"] ?: "glance5").str()))
}

/** The core after the app was killed and relaunched (spec.md §5.6, §13.2 `relaunch`):
 *  restored from the snapshot the old core gave `away_ms` earlier, or new. */
fun relaunchedSdk(v: Obj, old: Sdk, now: Long, r: Obj): Sdk {
    if (r["restored"] != true) return Sdk(sdkConfig(v))
    val snapshot = old.snapshot(maxOf(now - r["away_ms"].long(), 0L).toULong()) ?: error("relaunch: no snapshot to restore")
    return Sdk.restore(sdkConfig(v), snapshot, groupId(v), now.toULong(), now.toULong())
}

/** The controller after a relaunch (spec.md §6.1): restored from its own snapshot next to
 *  the core restored from `sdk_snapshot`, or new when there is none. */
fun relaunchedController(v: Obj, old: Controller, r: Obj): Controller {
    val mine = old.snapshot()
    val sdkSnapshot = r["sdk_snapshot"] as String?
    if (mine == null || sdkSnapshot == null) return newController(v)
    val at = r["unix_ms"].long().toULong()
    return Sdk.restore(sdkConfig(v), sdkSnapshot, groupId(v), at, at).use { sdk ->
        Controller.restore(controllerConfig(v), mine, sdk)
    }
}

/** One step as the vector writes it, and the core after it. */
fun sdkStep(v: Obj, old: Sdk, want: Obj): Pair<Obj, Sdk> {
    var sdk = old
    val now = want["now"].long()
    val (kind, arg) = want["input"].obj().one()
    val error = try {
        val at = now.toULong()
        when (kind) {
            "relaunch" -> { sdk = relaunchedSdk(v, old, now, arg.obj()); old.close() }
            "bytes" -> sdk.handleBytes(at, arg.str().toByteArray())
            "api" -> sdk.handleInput(at, Input.Api(apiCall(arg.obj())))
            "frame" -> sdk.handleInput(at, Input.Frame(serverFrame(arg.obj())))
            "lifecycle" -> sdk.handleInput(at, Input.Lifecycle(enumOf(Lifecycle.values(), arg.str())))
            "network" -> sdk.handleInput(at, Input.Network(enumOf(NetworkChange.values(), arg.str())))
            "timeout" -> sdk.handleInput(at, Input.Timeout)
            else -> error("unknown input $kind")
        }
        null
    } catch (e: SdkException) {
        snake(when (e) { is SdkException.Api -> e.code; is SdkException.Protocol -> e.code; is SdkException.TimeWentBackwards -> e.code }.name)
    }
    val rows = sdk.lastRows()
    val outputs = ArrayList<Any?>()
    while (true) {
        when (val o = sdk.pollOutput()) {
            is Output.Timeout -> return Pair(mapOf("now" to now, "input" to want["input"], "error" to error, "outputs" to outputs,
                "timeout" to o.atMs?.toLong(), "rows" to rows), sdk)
            is Output.Event -> outputs.add(mapOf("event" to eventJson(o.event)))
            is Output.Transmit -> outputs.add(mapOf("transmit" to frameJson(o.frame)))
            is Output.Connect -> outputs.add(mapOf("connect" to emptyMap<String, Any?>()))
        }
    }
}

/** One step as the vector writes it, and the controller after it. */
fun controllerStep(v: Obj, old: Controller, want: Obj): Pair<Obj, Controller> {
    var c = old
    val (kind, arg) = want["input"].obj().one()
    val error = try {
        if (kind == "relaunch") { c = relaunchedController(v, old, arg.obj()); old.close() }
        else c.handleInput(when (kind) {
            "user" -> ControllerInput.User(userIntent(arg))
            "lifecycle" -> ControllerInput.Lifecycle(enumOf(Lifecycle.values(), arg.str()))
            "event" -> ControllerInput.Event(event(arg.obj()))
            else -> error("unknown controller input $kind")
        })
        null
    } catch (e: ControllerException.Refused) { snake(e.code.name) }
    val rows = c.lastRows()
    val outputs = generateSequence { c.pollOutput() }.map(::controllerOutputJson).toList()
    return Pair(mapOf("input" to want["input"], "error" to error, "outputs" to outputs, "rows" to rows), c)
}

/** The first mismatch as text, or null. */
fun replay(v: Obj): String? {
    // a relaunch replaces the machine (and closes the old one), so each loop owns the latest
    var sdk = Sdk(sdkConfig(v))
    try {
        for ((i, want) in v["sdk"].list().withIndex()) {
            val (got, next) = sdkStep(v, sdk, want.obj())
            sdk = next
            if (got != want) return "sdk step $i: expected $want, got $got"
        }
    } finally { sdk.close() }
    var c = newController(v)
    try {
        for ((i, want) in v["controller"].list().withIndex()) {
            val (got, next) = controllerStep(v, c, want.obj())
            c = next
            if (got != want) return "controller step $i: expected $want, got $got"
        }
    } finally { c.close() }
    return null
}

/** The pre-login manual session, one tap on the Cobrowse button, as a Kotlin app drives it. */
fun preloginManualJourney() {
    val sdk = Sdk(defaultSdkConfig())
    val app = Controller(ControllerConfig(19921, true))
    val sent = ArrayList<String>(); val screen = ArrayList<UiDirective>(); val events = ArrayList<Event>()
    var now = 0uL
    lateinit var drainApp: () -> Unit
    val drainSdk: () -> Unit = {
        loop@ while (true) {
            when (val o = sdk.pollOutput()) {
                is Output.Timeout -> break@loop
                is Output.Transmit -> sent.add(String(encodeClientFrame(o.frame)))
                is Output.Event -> { events.add(o.event); app.handleInput(ControllerInput.Event(o.event)); drainApp() }
                is Output.Connect -> {}
            }
        }
    }
    drainApp = {
        while (true) {
            when (val o = app.pollOutput() ?: break) {
                is ControllerOutput.Ui -> screen.add(o.directive)
                is ControllerOutput.Call -> { sdk.handleInput(now, Input.Api(o.call)); drainSdk() }
                is ControllerOutput.AgentSignal, is ControllerOutput.AgentMessage -> {} // for the app's own code
            }
        }
    }
    fun user(intent: UserIntent) { app.handleInput(ControllerInput.User(intent)); drainApp() }
    fun server(json: String) { sdk.handleBytes(now, json.toByteArray()); drainSdk() }

    user(UserIntent.Launch)
    check(sent.last().startsWith("{\"type\":\"init\"")) { sent.last() }
    server("""{"type":"settings","v":1,"key_length":4}""")
    check(screen.last() == UiDirective.Show(UiElement.COBROWSE_BUTTON, null)) { screen }
    user(UserIntent.TapCobrowse)
    check(sent.last() == """{"type":"start_session","key":null}""") { sent.last() }
    now = 40uL
    server("""{"type":"session_started","sessionkey":"4821"}""")
    check(events.last() == Event.ConnectedToSession("4821", KeyType.RANDOM)) { events.last() }
    check(UiDirective.Show(UiElement.SESSION_KEY, "4821") in screen) { screen }
    server("""{"type":"guest_count","guestcount":1}""")
    check(eventProperties(events.last()) == mapOf("guestcount" to "1"))
    now = 30_040uL
    server("""{"type":"session_ended","reason":"agent_ended"}""")
    check(events.last() == Event.SessionEnded("agent_ended")) { events.last() }
    check(sdk.state().session == "idle")
    try {
        app.handleInput(ControllerInput.User(UserIntent.Launch)); error("a second launch must be refused")
    } catch (e: ControllerException.Refused) { check(e.code == ErrorCode.ALREADY_LAUNCHED) }
    sdk.close(); app.close()
}

/** Login, presence, an agent's one-click request, terms displayed and accepted, a session
 *  with the visitor id as key, whose key is never shown, as a Kotlin app drives it. */
fun oneClickAcceptedJourney() {
    val sdk = Sdk(defaultSdkConfig())
    val app = Controller(ControllerConfig(19921, true))
    val sent = ArrayList<String>(); val screen = ArrayList<UiDirective>(); val events = ArrayList<Event>()
    lateinit var drainApp: () -> Unit
    val drainSdk: () -> Unit = {
        loop@ while (true) {
            when (val o = sdk.pollOutput()) {
                is Output.Timeout -> break@loop
                is Output.Transmit -> sent.add(String(encodeClientFrame(o.frame)))
                is Output.Event -> { events.add(o.event); app.handleInput(ControllerInput.Event(o.event)); drainApp() }
                is Output.Connect -> {}
            }
        }
    }
    drainApp = {
        while (true) {
            when (val o = app.pollOutput() ?: break) {
                is ControllerOutput.Ui -> screen.add(o.directive)
                is ControllerOutput.Call -> { sdk.handleInput(0uL, Input.Api(o.call)); drainSdk() }
                is ControllerOutput.AgentSignal, is ControllerOutput.AgentMessage -> {} // for the app's own code
            }
        }
    }
    fun user(intent: UserIntent) { app.handleInput(ControllerInput.User(intent)); drainApp() }
    fun server(json: String) { sdk.handleBytes(0uL, json.toByteArray()); drainSdk() }

    user(UserIntent.Launch)
    server("""{"type":"settings","v":1,"key_length":4}""")
    user(UserIntent.Login("cust-42"))
    check(sent.last().contains("\"visitor_id\":\"cust-42\"")) { sent.last() }
    server("""{"type":"settings","v":1,"key_length":4}""")
    check(sent.last().contains("\"type\":\"presence_connect\"")) { sent.last() }
    server("""{"type":"presence_connected"}""")
    server("""{"type":"presence_show_terms","request_id":7}""")
    check(UiDirective.Show(UiElement.TERMS, null) in screen) { screen }
    check(sent.last().contains("\"displayed\"")) { sent.last() }
    user(UserIntent.AcceptTerms)
    check(sent[sent.size - 2].contains("\"accepted\"")) { sent }
    check(sent.last().contains("\"type\":\"start_session\"") && sent.last().contains("\"cust-42\"")) { sent.last() }
    server("""{"type":"session_started","sessionkey":"cust-42"}""")
    check(events.last() == Event.ConnectedToSession("cust-42", KeyType.VISITOR_ID)) { events.last() }
    check(UiDirective.Show(UiElement.SESSION_INDICATOR, null) in screen) { screen }
    check(screen.none { it is UiDirective.Show && it.element == UiElement.SESSION_KEY }) { screen }
    sdk.close(); app.close()
}

fun main(args: Array<String>) {
    val dir = File(args.firstOrNull() ?: "vectors/journeys")
    val files = dir.listFiles { f -> f.name.endsWith(".json") }!!.sortedBy { it.name }
    var failed = 0
    fun test(name: String, body: () -> Unit) {
        try { body(); println("ok - $name") } catch (e: Throwable) { failed++; println("not ok - $name: ${e.message}") }
    }
    test("a vector per seed journey") { check(files.size >= 11) { "${files.size}" } }
    // the relaunch journeys are among them, so the restore path above is replayed
    test("a vector with a relaunch") { check(files.any { it.readText().contains("\"relaunch\"") }) }
    for (f in files) test("replays ${f.name}") {
        val v = Json(f.readText()).parse().obj()
        check(v["format"] == "cobrowse-replay/1")
        replay(v)?.let { error(it) }
    }
    test("a vector edited by one byte fails the replay") {
        val text = File(dir, "oneclick_accepted.json").readText()
        val at = text.indexOf("\"guestcount\": 1") + "\"guestcount\": ".length
        val edited = text.substring(0, at) + "2" + text.substring(at + 1)
        val m = replay(Json(edited).parse().obj())
        check(m != null && Regex("step \\d+").containsMatchIn(m)) { "replayed: $m" }
    }
    test("journey: pre-login manual session") { preloginManualJourney() }
    test("journey: one-click, terms accepted, the key never shown") { oneClickAcceptedJourney() }
    println(if (failed == 0) "# all passed" else "# $failed failed")
    exitProcess(if (failed == 0) 0 else 1)
}
