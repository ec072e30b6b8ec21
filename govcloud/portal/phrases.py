"""The portal's messages that no template writes as ``t("…")``: words a page shows from its
data (a state, a role, a kind of request, a quota item), labels a template passes to its
macros, and messages made below the portal (refusals, policy messages, change reasons, the
chargeback's headers, audit actions). ``phrase("…")`` marks each for ``pybabel extract`` (a
keyword of ``babel.cfg``'s extraction, see docs/portal.md) and returns it unchanged.

``PATTERNS``: messages made with values, written with named placeholders. ``i18n`` matches
a text against them and fills the translation of the one it was made from."""

from __future__ import annotations


def phrase(text: str) -> str:
    """``text``, marked for the catalogue."""
    return text


WORDS = (
    # roles, sign-in origins, kinds of request, states
    phrase("operator"), phrase("member"), phrase("approver"), phrase("finance"),
    phrase("auditor"), phrase("local"), phrase("keystone"),
    phrase("website"), phrase("servers"), phrase("replicas"), phrase("resize"),
    phrase("quota"), phrase("remove"), phrase("backup"), phrase("antivirus"),
    phrase("waiting"), phrase("approved"), phrase("rejected"), phrase("returned"),
    phrase("closed"), phrase("open"), phrase("month-to-date"), phrase("no usage"),
    phrase("primary"), phrase("dr"),
    # the quota's items
    phrase("instances"), phrase("cores"), phrase("ram_gb"), phrase("volumes"),
    phrase("volume_gb"), phrase("websites"),
    # what a change does (core.effects)
    phrase("destroys"), phrase("shrinks"), phrase("weakens"), phrase("exposes"),
    # the new-request page's forms and fields (request_form.html's macros)
    phrase("A new website"), phrase("Domain"), phrase("Backend URL (proxy sites)"),
    phrase("Storage (GB)"), phrase("New servers"), phrase("Image"), phrase("How many"),
    phrase("Data volume per server (GB)"), phrase("More (or fewer) replicas"),
    phrase("How many in all"), phrase("A resize"), phrase("Remove a server"),
    phrase("Remove a website"), phrase("Website"), phrase("More quota"),
    phrase("Backup settings"), phrase("Schedule (cron)"), phrase("Antivirus settings"),
    phrase("Server"), phrase("Flavor"), phrase("Name"), phrase("Kind"),
    # error pages' headings (errors.Handlers)
    phrase("Not allowed"), phrase("Not found"), phrase("Refused"),
    phrase("Something went wrong"),
    # refused sign-ins (access.users, access.second_factor) and tokens (portal.auth)
    phrase("the user name or password is wrong, or the account is disabled"),
    phrase("check them, or ask an operator"),
    phrase("too many failed sign-ins"),
    phrase("try again in 15 minutes, or ask an operator"),
    phrase("the code is wrong, was already used, or is too old"),
    phrase("type the code your authenticator app shows now (or a recovery code)"),
    phrase("the sign-in cannot be checked now: Keystone does not answer"),
    phrase("try again in a few minutes, or tell an operator"),
    phrase("this session waits for its second factor: nothing else can be done with it "
           "until then"),
    phrase("give the code of your authenticator app at /login/second-factor (enrol there "
           "first if you have not), or call the API with an API token"),
    phrase("this API token may only read (scope read) — make one that may act with govcloud "
           "tokens add --owner NAME --scope write"),
)

PATTERNS = (
    phrase("no request {number} of {department}"),
    phrase("see the request list"),
)
