"""A browser-free Streamlit client: one session over Streamlit's own WebSocket protocol.

A browser's Streamlit frontend talks to the server over one WebSocket (``/_stcore/stream``): it sends
``BackMsg`` protobufs (``rerun_script`` with the page, the query string and the state of every widget)
and receives ``ForwardMsg`` protobufs (``new_session`` when a script run starts, ``delta`` messages
that put an element or a block at a path of the page's tree, ``script_finished`` when the run is
over). :class:`Session` does the same without a browser, so a load test spends the machine's cores on
the server rather than on drawing pages:

- it opens a session on a page (its URL path, e.g. ``"recommendations"``, and a query string) and
  waits for the script run to finish;
- it keeps the page's tree of deltas as the frontend does (elements by delta path; a re-sent block
  keeps its children until the run ends; at the end of a successful run every node the run did not
  send is dropped), so it can find texts, headings, metrics, widgets, their ids, options and values;
- it changes widgets as a browser does: a ``rerun_script`` carrying the state of every widget on the
  page (the changed one, the others as the frontend holds them: what the user set, what the server
  set with ``set_value``, else the widget's default), a button as a one-off ``trigger_value``;
  widget states of widgets no longer on the page are dropped after a successful run, as the
  frontend does;
- it keeps the ForwardMsg cache as the frontend does: large elements the server marks ``cacheable``
  are kept by hash, every rerun names the kept hashes (``cached_message_hashes``), the server sends a
  ``ref_hash`` instead of an element the client already has, and an entry not used for
  ``max_cached_message_age`` finished runs is dropped;
- it switches pages (``navigation`` lists them; a rerun with the page's script hash);
- it uploads a file into a file uploader as the frontend does (``file_urls_request``, an HTTP PUT with
  the XSRF cookie and header, then the uploader's ``file_uploader_state_value``).

What it leaves out is the browser itself: no JavaScript, no layout or drawing of charts and tables,
no static files; a page view's time here is the server's (script run + sending), not the time a
browser needs to draw it.

Example::

    async with Session("http://127.0.0.1:8501") as s:
        await s.open("recommendations")
        await s.choose("Find a customer", "By customer id")
        await s.type("Customer id", "C000042")
        assert "Customer C000042" in s.headings()
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Block_pb2 import Block
from streamlit.proto.Common_pb2 import FileURLs
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

#: The root containers of a page (a delta path's first index).
MAIN, SIDEBAR, EVENT, BOTTOM = 0, 1, 2, 3
#: Widget kinds whose state the client sends (the value types Streamlit 1.67 registers them with).
STRING_WIDGETS = {"text_input", "text_area", "selectbox", "radio", "color_picker"}
DEFAULT_TIMEOUT = 240.0
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~$])")


class ProtocolError(RuntimeError):
    """The server closed the session, reported an error, or a run did not finish in time."""


@dataclass
class Node:
    """One place of the page's tree: an element, or a block with children by index."""

    path: tuple[int, ...]
    run_id: str
    element: Element | None = None
    block: Block | None = None
    children: dict[int, Node] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """The element's or block's kind (``"markdown"``, ``"selectbox"``, ``"tab_container"``, ...)."""
        proto = self.element if self.element is not None else self.block
        return (proto.WhichOneof("type") or "") if proto is not None else ""

    @property
    def proto(self) -> Any:  # noqa: ANN401 - the element's own message (Markdown, Selectbox, ...)
        if self.element is not None:
            return getattr(self.element, self.kind)
        return getattr(self.block, self.kind) if self.block is not None and self.kind else None

    def walk(self) -> Iterator[Node]:
        """This node and every node below it, in page order."""
        yield self
        for index in sorted(self.children):
            yield from self.children[index].walk()


@dataclass(frozen=True)
class Widget:
    """A widget on the page as the client holds it."""

    kind: str
    id: str
    label: str
    options: tuple[str, ...]
    value: Any  # noqa: ANN401 - a string, a bool, a number, a list of strings, or None (no value)
    node: Node


def unescape_markdown(text: str) -> str:
    """Markdown's backslash escapes removed (``C\\_1`` -> ``C_1``): the text a reader sees."""
    return _ESCAPED.sub(r"\1", text)


class Session:
    """One Streamlit session over the WebSocket protocol (see the module's docstring)."""

    def __init__(self, base_url: str, *, locale: str = "en-US", timezone: str = "UTC",
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        parts = urlsplit(base_url)
        self.base_url = base_url.rstrip("/")
        self.ws_url = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}{parts.path.rstrip('/')}/_stcore/stream"
        self.locale, self.timezone, self.timeout = locale, timezone, timeout
        self.query_string = ""
        self.page_script_hash = ""
        self.pages: list[Any] = []  # AppPage protos, from new_session and navigation
        self.roots: dict[int, Node] = {}
        self.run_id = ""
        self.last_status: int | None = None
        self.errors: list[str] = []  # exceptions shown on the page, page-not-found, compile errors
        self.runs_started = 0
        self.messages = 0
        self.bytes_received = 0
        self.references = 0  # messages the server sent as a ref_hash to one this client keeps
        self._values: dict[str, WidgetState] = {}  # widget states set by this client or by the server
        self._cache: dict[str, tuple[ForwardMsg, int]] = {}  # hash -> (message, finished runs when last used)
        self._finished_runs = 0
        self._max_age = 2
        self._finished_for = -1  # runs_started at the last run that finished (successfully or not)
        self._changed = asyncio.Condition()
        self._socket: Any = None
        self._reader: asyncio.Task | None = None
        self._closed: BaseException | None = None
        self._asked_page = ""  # the page name of the last rerun (the server's page_not_found may leave it out)
        self.session_id = ""  # the server's id of this session (new_session's initialize), for uploads
        self._file_urls: dict[str, Any] = {}  # file_urls_response by request id

    # ------------------------------------------------------------------ connection
    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the WebSocket (as the frontend does: subprotocol ``streamlit``, the page's origin)."""
        parts = urlsplit(self.base_url)
        # No pings (a browser sends none); compression as a browser negotiates it (permessage-deflate).
        self._socket = await websockets.connect(
            self.ws_url, subprotocols=["streamlit"], origin=f"{parts.scheme}://{parts.netloc}",
            max_size=None, ping_interval=None, open_timeout=self.timeout)
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing anyway
                pass
        self._socket = self._reader = None

    async def open(self, page: str = "", query: str = "") -> Session:
        """Connect (if not yet) and run ``page`` (its URL path, ``""`` for the default page) as a browser
        opening ``/<page>?<query>`` does; returns once the run is over."""
        if self._socket is None:
            await self.connect()
        self.query_string = query
        await self.rerun(page_name=page)
        return self

    async def _read(self) -> None:
        try:
            async for data in self._socket:
                msg = ForwardMsg()
                msg.ParseFromString(data)
                self.messages += 1
                self.bytes_received += len(data)
                async with self._changed:
                    self._handle(msg)
                    self._changed.notify_all()
        except BaseException as exc:  # noqa: BLE001 - any end of the socket wakes the waiters
            self._closed = exc
        else:
            self._closed = ProtocolError("the server closed the WebSocket")
        async with self._changed:
            self._changed.notify_all()

    # ------------------------------------------------------------------ forward messages
    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":  # an element the client named in cached_message_hashes
            if msg.ref_hash not in self._cache:
                raise ProtocolError(f"the server referred to message {msg.ref_hash}, which this client does not have")
            cached, _ = self._cache[msg.ref_hash]
            self.references += 1
            self._cache[msg.ref_hash] = (cached, self._finished_runs)
            resolved = ForwardMsg()
            resolved.CopyFrom(cached)
            resolved.metadata.CopyFrom(msg.metadata)
            msg, kind = resolved, resolved.WhichOneof("type")
        elif msg.metadata.cacheable and msg.hash:
            self._cache[msg.hash] = (msg, self._finished_runs)
        if kind == "new_session":
            self._new_session(msg)
        elif kind == "delta":
            self._delta(msg)
        elif kind == "navigation":
            self.pages = list(msg.navigation.app_pages)
            self.page_script_hash = msg.navigation.page_script_hash or self.page_script_hash
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "page_not_found":
            self.errors.append(f"page not found: {msg.page_not_found.page_name or self._asked_page}")
        elif kind == "session_event" and msg.session_event.WhichOneof("type") == "script_compilation_exception":
            self.errors.append(f"compile error: {msg.session_event.script_compilation_exception.message}")
        elif kind == "script_finished":
            self._script_finished(msg.script_finished)
        elif kind == "file_urls_response":
            self._file_urls[msg.file_urls_response.response_id] = msg.file_urls_response

    def _new_session(self, msg: ForwardMsg) -> None:
        new = msg.new_session
        self.runs_started += 1
        self.run_id = msg.metadata.run.script_run_id or f"run{self.runs_started}"
        if new.page_script_hash:
            self.page_script_hash = new.page_script_hash
        if new.HasField("initialize") and new.initialize.session_id:
            self.session_id = new.initialize.session_id
        if new.app_pages:
            self.pages = list(new.app_pages)
        if new.HasField("config") and new.config.max_cached_message_age:
            self._max_age = new.config.max_cached_message_age

    def _delta(self, msg: ForwardMsg) -> None:
        delta, path = msg.delta, tuple(msg.metadata.delta_path)
        kind = delta.WhichOneof("type")
        if kind not in ("new_element", "add_block") or not path:
            return  # transient elements (spinners, toasts) are not part of the page's tree
        run = msg.metadata.run.script_run_id or self.run_id
        parent = self.roots.setdefault(path[0], Node(path[:1], run, block=Block()))
        parent.run_id = run
        for depth in range(1, len(path) - 1):  # every block on the way is part of this run
            child = parent.children.get(path[depth])
            if child is None or child.block is None:
                child = parent.children[path[depth]] = Node(path[:depth + 1], run, block=Block())
            child.run_id = run
            parent = child
        if len(path) == 1:
            return
        old = parent.children.get(path[-1])
        if kind == "new_element":
            node = Node(path, run, element=delta.new_element)
            parent.children[path[-1]] = node
            self._server_value(node)
        else:  # a re-sent block keeps its children until the run ends (as the frontend does)
            kept = old.children if old is not None and old.block is not None else {}
            parent.children[path[-1]] = Node(path, run, block=delta.add_block, children=kept)

    def _script_finished(self, status: int) -> None:
        self.last_status = status
        if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            return  # another run follows; the frontend keeps the page as it is
        self._finished_for = self.runs_started
        if status in (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY):
            if status == ForwardMsg.FINISHED_SUCCESSFULLY:
                for root in self.roots.values():
                    self._drop_stale(root)
                active = {w.id for w in self.widgets()}
                self._values = {k: v for k, v in self._values.items() if k in active}
            self._finished_runs += 1
            self._cache = {h: (m, used) for h, (m, used) in self._cache.items()
                           if self._finished_runs - used <= self._max_age}

    def _drop_stale(self, node: Node) -> None:
        node.children = {i: c for i, c in node.children.items() if c.run_id == self.run_id}
        for child in node.children.values():
            self._drop_stale(child)

    # ------------------------------------------------------------------ widget states
    def _server_value(self, node: Node) -> None:
        """A widget the server set (``set_value``): the frontend takes the server's value."""
        proto, kind = node.proto, node.kind
        if not getattr(proto, "set_value", False) or not getattr(proto, "id", ""):
            return
        state = WidgetState(id=proto.id)
        if kind in ("selectbox", "radio"):
            if not proto.HasField("raw_value"):
                self._values.pop(proto.id, None)
                return
            state.string_value = proto.raw_value
        elif kind in ("text_input", "text_area", "color_picker"):
            if not proto.HasField("value"):
                self._values.pop(proto.id, None)
                return
            state.string_value = proto.value
        elif kind == "checkbox":
            state.bool_value = proto.value
        elif kind == "number_input":
            if not proto.HasField("value"):
                return
            state.double_value = proto.value
        elif kind == "date_input":
            state.string_array_value.data[:] = list(proto.value)
        else:
            return
        self._values[proto.id] = state

    @staticmethod
    def _default_state(node: Node) -> WidgetState | None:
        """The state the frontend gives a widget it has just drawn (its default), or None (none sent)."""
        proto, kind = node.proto, node.kind
        if node.block is not None:  # stateful tabs (on_change / key): the open tab's label
            labels = [c.block.tab.label for c in (node.children[i] for i in sorted(node.children))
                      if c.block is not None and c.block.WhichOneof("type") == "tab"]
            if kind != "tab_container" or not proto.id or not labels:
                return None
            return WidgetState(id=proto.id, string_value=labels[min(proto.default_tab_index, len(labels) - 1)])
        state = WidgetState(id=proto.id)
        if kind in ("selectbox", "radio"):
            if not proto.HasField("default") or not proto.options:
                return None
            state.string_value = proto.options[proto.default]
        elif kind in ("text_input", "text_area", "color_picker"):
            if not proto.HasField("default"):
                return None
            state.string_value = proto.default
        elif kind == "checkbox":
            state.bool_value = proto.default
        elif kind == "number_input":
            if not proto.HasField("default"):
                return None
            state.double_value = proto.default
        elif kind == "date_input":
            state.string_array_value.data[:] = list(proto.default)
        else:
            return None
        return state

    def _state(self, node: Node) -> WidgetState | None:
        widget_id = node.proto.id
        return self._values.get(widget_id) or self._default_state(node)

    def widget_states(self) -> list[WidgetState]:
        """What the frontend would send with a rerun: every widget on the page with a value."""
        states = []
        for node in self.nodes():
            if self._is_widget(node):
                state = self._state(node)
                if state is not None:
                    states.append(state)
        return states

    @staticmethod
    def _is_widget(node: Node) -> bool:
        proto = node.proto
        if node.block is not None:
            return node.kind == "tab_container" and bool(proto.id)
        return proto is not None and bool(getattr(proto, "id", "")) and node.kind not in ("dataframe", "plotly_chart")

    # ------------------------------------------------------------------ runs
    async def rerun(self, changes: list[WidgetState] | None = None, *, page_script_hash: str | None = None,
                    page_name: str = "") -> None:
        """Send a ``rerun_script`` (the changed widgets' states over the page's current ones) and wait
        until that run has finished; raises :class:`ProtocolError` on an error or after the timeout."""
        for change in changes or []:
            if change.WhichOneof("value") != "trigger_value":  # a trigger is sent once, never kept
                self._values[change.id] = change
        states = {s.id: s for s in self.widget_states()}
        states.update({c.id: c for c in changes or []})
        msg = BackMsg()
        client = msg.rerun_script
        client.query_string = self.query_string
        client.page_script_hash = self.page_script_hash if page_script_hash is None else page_script_hash
        client.page_name = page_name
        client.widget_states.widgets.extend(states.values())
        client.cached_message_hashes.extend(self._cache)
        context = client.context_info
        context.timezone, context.timezone_offset, context.locale = self.timezone, 0, self.locale
        context.url = f"{self.base_url}/{page_name}" + (f"?{self.query_string}" if self.query_string else "")
        context.is_embedded, context.color_scheme = False, "light"
        started = self.runs_started
        self.errors.clear()
        self._asked_page = page_name
        await self._socket.send(msg.SerializeToString())
        await self.wait(lambda: self.runs_started > started and self._finished_for == self.runs_started)
        if self.last_status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR or self.errors:
            raise ProtocolError("; ".join(self.errors) or "the script did not compile")

    async def wait(self, condition: Callable[[], bool], timeout: float | None = None) -> None:
        """Wait until ``condition()`` holds (checked after every message)."""
        async def until() -> None:
            async with self._changed:
                while not condition():
                    if self._closed is not None:
                        raise ProtocolError(f"the session ended: {self._closed!r}")
                    await self._changed.wait()
        try:
            await asyncio.wait_for(until(), self.timeout if timeout is None else timeout)
        except TimeoutError as exc:
            raise ProtocolError(f"no finished run within {self.timeout if timeout is None else timeout:.0f} s") from exc

    # ------------------------------------------------------------------ actions
    async def type(self, label: str, text: str) -> None:
        """Type ``text`` into a text input and press Enter."""
        widget = self.widget(label, kinds=("text_input", "text_area"))
        await self.rerun([WidgetState(id=widget.id, string_value=text)])

    async def choose(self, label: str, option: str | re.Pattern[str] | int) -> str:
        """Pick an option of a select box or radio by its shown text, a pattern, or its index; returns it."""
        widget = self.widget(label, kinds=("selectbox", "radio"))
        if isinstance(option, int):
            chosen = widget.options[option]
        else:
            found = [o for o in widget.options if (option.search(o) if isinstance(option, re.Pattern) else o == option)]
            if not found:
                raise KeyError(f"no option {option!r} in {label!r}: {list(widget.options)[:20]}")
            chosen = found[0]
        await self.rerun([WidgetState(id=widget.id, string_value=chosen)])
        return chosen

    async def check(self, label: str, value: bool = True) -> None:
        widget = self.widget(label, kinds=("checkbox",))
        await self.rerun([WidgetState(id=widget.id, bool_value=value)])

    async def click(self, label: str) -> None:
        """Click a button (a one-off trigger, as the frontend sends it)."""
        widget = self.widget(label, kinds=("button",))
        await self.rerun([WidgetState(id=widget.id, trigger_value=True)])

    async def open_tab(self, label: str) -> None:
        """Open a tab of a stateful tab set (``on_change``/key: switching reruns the page)."""
        for node in self.nodes():
            if node.kind == "tab_container" and node.proto.id and label in self.tab_labels(node):
                await self.rerun([WidgetState(id=node.proto.id, string_value=label)])
                return
        raise KeyError(f"no stateful tab {label!r} on the page")

    async def upload(self, label: str, path: Path) -> None:
        """Put a file into a file uploader as the frontend does: ask the session for an upload URL
        (``file_urls_request``), PUT the file there (with the XSRF cookie and header), then rerun with the
        uploader's ``file_uploader_state_value``; the uploader keeps the file on later reruns."""
        import httpx

        widget = self.widget(label, kinds=("file_uploader",))
        request = BackMsg()
        request_id = uuid.uuid4().hex
        request.file_urls_request.request_id = request_id
        request.file_urls_request.file_names.append(path.name)
        request.file_urls_request.session_id = self.session_id
        await self._socket.send(request.SerializeToString())
        await self.wait(lambda: request_id in self._file_urls)
        response = self._file_urls.pop(request_id)
        if response.error_msg or not response.file_urls:
            raise ProtocolError(f"no upload URL: {response.error_msg}")
        urls: FileURLs = response.file_urls[0]
        data = path.read_bytes()
        async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout) as http:
            (await http.get("/_stcore/health")).raise_for_status()  # sets the XSRF cookie, as the app's page load does
            token = http.cookies.get("_streamlit_xsrf")
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            put = await http.put(urls.upload_url, files={"file": (path.name, data, kind)},
                                 headers={"X-Xsrftoken": token} if token else {})
            put.raise_for_status()
        state = WidgetState(id=widget.id)
        info = state.file_uploader_state_value.uploaded_file_info.add()
        info.name, info.size, info.file_id = path.name, len(data), urls.file_id
        info.file_urls.CopyFrom(urls)
        await self.rerun([state])

    async def goto(self, page: str) -> None:
        """Switch to another page (its URL path or its title), as a click in the menu does."""
        target = next((p for p in self.pages if page.lower() in (p.url_pathname.lower(), p.page_name.lower())), None)
        if target is None:
            raise KeyError(f"no page {page!r}: {[p.url_pathname for p in self.pages]}")
        self.query_string = ""
        await self.rerun(page_script_hash=target.page_script_hash)

    # ------------------------------------------------------------------ reading the page
    def nodes(self, root: int | None = None) -> Iterator[Node]:
        """Every node of the page (or of one root container) in page order."""
        for index in sorted(self.roots):
            if root is None or index == root:
                yield from self.roots[index].walk()

    def elements(self, kind: str | None = None, root: int | None = None) -> list[Node]:
        return [n for n in self.nodes(root) if n.element is not None and (kind is None or n.kind == kind)]

    def widgets(self) -> list[Widget]:
        out = []
        for node in self.nodes():
            if not self._is_widget(node):
                continue
            proto = node.proto
            options = tuple(self.tab_labels(node)) if node.block is not None else tuple(getattr(proto, "options", ()))
            state = self._state(node)
            out.append(Widget(node.kind, proto.id, getattr(proto, "label", ""), options, _value_of(state), node))
        return out

    def widget(self, label: str, kinds: tuple[str, ...] | None = None) -> Widget:
        """The first widget with this label (and one of these kinds)."""
        for w in self.widgets():
            if w.label == label and (kinds is None or w.kind in kinds):
                return w
        shown = sorted({(w.kind, w.label) for w in self.widgets()})
        raise KeyError(f"no widget {label!r} ({kinds}) on the page: {shown}")

    def value(self, label: str) -> Any:  # noqa: ANN401
        """A widget's current value as the client holds it (a select box's shown option)."""
        return self.widget(label).value

    @staticmethod
    def tab_labels(node: Node) -> list[str]:
        return [c.block.tab.label for c in (node.children[i] for i in sorted(node.children))
                if c.block is not None and c.block.WhichOneof("type") == "tab"]

    def headings(self) -> list[str]:
        """Headings as a reader sees them: ``st.title``/``st.header`` and Markdown ``#`` lines, unescaped."""
        out = []
        for node in self.elements():
            if node.kind == "heading":
                out.append(unescape_markdown(node.proto.body))
            elif node.kind == "markdown":
                out.extend(unescape_markdown(m.group(1)) for line in node.proto.body.splitlines()
                           if (m := _HEADING.match(line)))
        return out

    def metric(self, label: str) -> str:
        """The shown value of the first metric with this label."""
        for node in self.elements("metric"):
            if node.proto.label == label:
                return node.proto.body
        raise KeyError(f"no metric {label!r}")

    def plotly_specs(self) -> list[dict[str, Any]]:
        return [json.loads(n.proto.spec) for n in self.elements("plotly_chart") if n.proto.spec]

    def texts(self, root: int | None = None) -> list[str]:
        """Every text of the page's elements: Markdown, headings, alerts, metrics, widget labels, options
        and values, chart titles, and the cells of tables (decoded from Arrow)."""
        out: list[str] = []
        for node in self.elements(root=root):
            out.extend(_texts_of(node))
        out.extend(str(w.value) for w in self.widgets() if w.value is not None)
        return out

    def text(self, root: int | None = None) -> str:
        return "\n".join(self.texts(root))

    def raw_contains(self, needle: str) -> bool:
        """Whether any element's serialized bytes contain ``needle`` (a table's cells, a chart's data...)."""
        data = needle.encode()
        return any(data in node.element.SerializeToString() for node in self.elements())


def _value_of(state: WidgetState | None) -> Any:  # noqa: ANN401
    if state is None:
        return None
    kind = state.WhichOneof("value")
    if kind == "file_uploader_state_value":  # the names of the files the uploader holds
        return [f.name for f in state.file_uploader_state_value.uploaded_file_info]
    if kind in ("string_array_value", "double_array_value", "int_array_value"):
        return list(getattr(state, kind).data)
    return getattr(state, kind) if kind else None


def _texts_of(node: Node) -> list[str]:
    proto, kind = node.proto, node.kind
    if kind in ("markdown", "heading", "text", "alert"):
        return [unescape_markdown(proto.body)]
    if kind == "metric":
        return [proto.label, proto.body, proto.delta]
    if kind == "code":
        return [proto.code_text]
    if kind == "exception":
        return [proto.type, proto.message]
    if kind in ("dataframe", "table"):
        return [_arrow_text(proto.arrow_data.data)] if proto.arrow_data.data else []
    if kind == "plotly_chart" and proto.spec:
        layout = json.loads(proto.spec).get("layout", {})
        title = layout.get("title", {})
        return [title.get("text", "") if isinstance(title, dict) else str(title)]
    out = [getattr(proto, "label", "")] if hasattr(proto, "label") else []
    out.extend(getattr(proto, "options", ()))
    return out


def _arrow_text(data: bytes) -> str:
    """A table's column names and cells as text (the bench checks that some text is absent)."""
    import pyarrow as pa

    table = pa.ipc.open_stream(data).read_all()
    columns = [" ".join("" if v is None else str(v) for v in column.to_pylist()) for column in table.columns]
    return " ".join(table.column_names) + " " + " ".join(columns)
