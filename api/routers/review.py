"""`/review`: the brand manager's page — sign in, the queue, one media, approve or reject.

Server-rendered HTML that reads without JavaScript; `static/review.js` adds live rows and
keyboard shortcuts. Every read goes through the same tenancy as the JSON API (another brand's
media is a 404 page); every post needs the session (unless the API is open) and a CSRF token.
A decision is published on `reelscope.reviews.v1` and nothing else: the worker's gate turns it
into the media's decision, which the page shows once it is back (within a second or so).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any, get_args
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from api import status
from api.auth import Principal
from api.deps import RuntimeDep
from api.errors import BROKER, ApiError, invalid, unavailable
from api.publisher import BrokerUnavailable
from api.review import present
from api.review.queue import detail, queue_page
from api.review.session import PAGE_SCOPES, page_caller
from api.routers.evidence import evidence_png
from processors.errors import ObjectNotFound
from processors.keys import thumbnail_key
from processors.lake.queue import QueueFilter
from schemas import topics
from schemas.fields import Platform
from schemas.reviews import Review

router = APIRouter(prefix="/review", include_in_schema=False)
PAGES = Path(__file__).resolve().parents[1] / "review"
TEMPLATES = Jinja2Templates(directory=PAGES / "templates")
TEMPLATES.env.globals.update(
    verdict_words=present.VERDICT_WORDS, decision_words=present.DECISION_WORDS
)
PER_PAGE = 50
PLATFORMS = get_args(Platform)
CHOICES = {
    "verdict": ("pass", "warn", "fail"),
    "decision": ("pending", "approved", "rejected", "none"),
    "kind": ("uploaded", "generated"),
    "platform": PLATFORMS,
}
NO_SCOPE = "this key lacks the review scope"
Short = Annotated[str, Form(max_length=200)]
Csrf = Annotated[str, Form(max_length=200)]


def person(request: Request, rt: RuntimeDep) -> Principal:
    """The signed-in reviewer (anyone when the API is open), else 401: GETs go to the login."""
    caller = page_caller(request, rt.keys, rt.sessions)
    if caller is None:
        raise ApiError(401, "sign_in", "sign in to review media", "sign in with a review key")
    rt.quotas.admit(caller)  # the key's request rate, as on the JSON API
    return caller


Person = Annotated[Principal, Depends(person)]


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with what every page needs: the CSRF token and who is signed in."""
    rt = request.app.state.runtime
    token, new_nonce = rt.sessions.csrf_for(request)
    response = TEMPLATES.TemplateResponse(
        request, name, {"csrf": token, "open": rt.keys.open, **context}, status_code=status_code
    )
    if new_nonce is not None:
        rt.sessions.keep_nonce(response, new_nonce)
    return response


def error_page(request: Request, err: ApiError) -> Response:
    """An error as a readable page; a GET without a session goes to the login form."""
    if err.status == 401 and request.method == "GET":
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return RedirectResponse(f"/review/login?next={target}", status_code=303)
    return page(request, "error.html", err.status, error=err, caller=None)


def require_csrf(request: Request, submitted: str) -> None:
    if not request.app.state.runtime.sessions.csrf_ok(request, submitted):
        msg = "this form has no valid CSRF token (expired, or not sent from this page)"
        raise ApiError(403, "csrf", msg, "reload the page and submit the form again")


def safe_next(target: str | None, default: str = "/review") -> str:
    """Only a path of this page: never another site (an open redirect)."""
    if target and target.startswith("/review") and "//" not in target and "\\" not in target:
        return target
    return default


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, rt: RuntimeDep, next: str = "/review") -> Response:
    if rt.keys.open:
        return RedirectResponse(safe_next(next), status_code=303)
    return page(request, "login.html", next=safe_next(next), caller=None)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request, rt: RuntimeDep, key: Short, csrf: Csrf, next: Short = "/review"
) -> Response:
    """Exchange a key with the review scope for a session cookie."""
    require_csrf(request, csrf)
    entry = rt.keys.identify(key.strip()) if key.strip() else None
    if entry is None or not PAGE_SCOPES.intersection(entry.scopes):
        code, why = (401, "this key is not known") if entry is None else (403, NO_SCOPE)
        return page(request, "login.html", code, next=safe_next(next), caller=None, error=why)
    response = RedirectResponse(safe_next(next), status_code=303)
    rt.sessions.issue(response, entry)
    return response


@router.post("/logout")
async def logout(request: Request, rt: RuntimeDep, csrf: Csrf) -> Response:
    require_csrf(request, csrf)
    response = RedirectResponse("/review/login", status_code=303)
    rt.sessions.end(response)
    return response


def _choice(name: str, value: str | None) -> str | None:
    if not value:
        return None
    if value not in CHOICES[name]:
        msg = f"{name} {value!r} is not one of {', '.join(CHOICES[name])}"
        raise invalid(msg, field=name, hint="pick a value from the filter's list")
    return value


def queue_filter(
    caller: Person,
    brand: Annotated[str | None, Query(max_length=63)] = None,
    verdict: Annotated[str | None, Query(max_length=20)] = None,
    decision: Annotated[str | None, Query(max_length=20)] = None,
    platform: Annotated[str | None, Query(max_length=40)] = None,
    kind: Annotated[str | None, Query(max_length=20)] = None,
    day_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    day_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> QueueFilter:
    """The list's filters from the query (an empty field is no filter)."""
    brands = caller.brand_filter(brand or None)
    return QueueFilter(
        brands=brands,
        verdict=_choice("verdict", verdict),
        decision=_choice("decision", decision),
        platform=_choice("platform", platform),
        source=_choice("kind", kind),
        day_from=_day("from", day_from),
        day_to=_day("to", day_to),
    )


def _day(name: str, value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError as e:
        msg = f"{name} {value!r} is not a date"
        raise invalid(msg, field=name, hint="use YYYY-MM-DD") from e


Filter = Annotated[QueueFilter, Depends(queue_filter)]
PageNo = Annotated[int, Query(alias="page", ge=1, le=10_000)]


async def _list_context(request: Request, rt: RuntimeDep, f: QueueFilter, n: int) -> dict[str, Any]:
    rows, more = await queue_page(rt, f, n, PER_PAGE)
    query = {k: v for k, v in request.query_params.items() if k != "page" and v}
    return {
        "rows": rows,
        "page_no": n,
        "prev_url": f"/review?{urlencode({**query, 'page': n - 1})}" if n > 1 else None,
        "next_url": f"/review?{urlencode({**query, 'page': n + 1})}" if more else None,
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "rows_url": f"/review/rows?{urlencode({**query, 'page': n})}",
    }


@router.get("", response_class=HTMLResponse)
async def queue(
    request: Request, rt: RuntimeDep, caller: Person, f: Filter, page_no: PageNo = 1
) -> Response:
    """The queue: newest first, filtered, 50 a page."""
    context = await _list_context(request, rt, f, page_no)
    values = {k: request.query_params.get(k, "") for k in (*CHOICES, "brand", "from", "to")}
    brands = sorted(caller.brands) if caller.brands is not None else None
    sent = request.query_params.get("sent")
    return page(
        request,
        "list.html",
        caller=caller,
        values=values,
        choices=CHOICES,
        brands=brands,
        sent=sent,
        **context,
    )


@router.get("/rows", response_class=HTMLResponse)
async def rows(
    request: Request, rt: RuntimeDep, caller: Person, f: Filter, page_no: PageNo = 1
) -> Response:
    """The list's rows alone: what the script fetches to show new results without a reload."""
    context = await _list_context(request, rt, f, page_no)
    context["here"] = f"/review?{request.url.query}"
    return page(request, "rows.html", caller=caller, **context)


@router.get("/media/{media_id}", response_class=HTMLResponse)
async def media_page(request: Request, media_id: str, rt: RuntimeDep, caller: Person) -> Response:
    found = await detail(rt, status.parse_media_id(media_id), caller)
    back = safe_next(request.query_params.get("back"))
    sent = request.query_params.get("sent")
    return page(
        request, "detail.html", caller=caller, d=found, back=back, platforms=PLATFORMS, sent=sent
    )


@router.get("/media/{media_id}/evidence.png")
async def evidence(media_id: str, rt: RuntimeDep, caller: Person) -> Response:
    png = await evidence_png(rt, status.parse_media_id(media_id), caller)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})


@router.get("/media/{media_id}/thumb.jpg")
async def thumbnail(media_id: str, rt: RuntimeDep, caller: Person) -> Response:
    """The analyzer's thumbnail of a media the caller may see."""
    parsed = status.parse_media_id(media_id)
    await status.media_status(rt, parsed, caller)
    try:
        jpg = rt.store.get_bytes(thumbnail_key(parsed))
    except ObjectNotFound as e:
        raise status.not_found(parsed) from e
    return Response(jpg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=300"})


@router.post("/media/{media_id}/decision")
async def decide(
    request: Request,
    media_id: str,
    rt: RuntimeDep,
    caller: Person,
    decision: Annotated[str, Form(max_length=20)],
    csrf: Csrf,
    reason: Annotated[str, Form(max_length=4096)] = "",
    platforms: Annotated[list[str] | None, Form(max_length=len(PLATFORMS))] = None,
    next: Short = "",
) -> Response:
    """Publish the reviewer's decision on the reviews topic; back to where they came from."""
    require_csrf(request, csrf)
    parsed = status.parse_media_id(media_id)
    state = await status.media_status(rt, parsed, caller)
    if state.status == "processing":
        msg = f"media {parsed} has no result yet"
        raise ApiError(409, "not_ready", msg, "wait for its result, then decide")
    check = state.brand_check or {}
    try:
        review = Review(
            media_id=parsed,
            producer=rt.settings.producer_id,
            brand_id=state.brand_id,
            decision=decision,  # validated by the model
            platforms=platforms or [],
            reason=reason.strip() or None,
            reviewer=caller.name,
            verdict=state.verdict,
            checks_version=check.get("checks_version"),
        )
    except ValidationError as e:
        problem = e.errors()[0]["msg"].removeprefix("Value error, ")
        raise invalid(problem, field="decision", hint="correct the form and send it again") from e
    try:
        await rt.publisher.publish(topics.REVIEWS, str(parsed).encode(), review.to_bytes())
    except BrokerUnavailable as e:
        raise unavailable(BROKER) from e
    back = safe_next(next, f"/review/media/{parsed}")
    sep = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{sep}sent={review.decision}", status_code=303)
