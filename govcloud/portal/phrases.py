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
    phrase("auditor"), phrase("local"), phrase("keystone"), phrase("directory"),
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
    # refused directory sign-ins (access.directory)
    phrase("the sign-in cannot be checked now: the directory does not answer"),
    phrase("your directory account is locked (after repeated wrong passwords, or by the "
           "directory's administrators)"),
    phrase("ask the directory's administrators to unlock it"),
    phrase("this session waits for its second factor: nothing else can be done with it "
           "until then"),
    phrase("give the code of your authenticator app at /login/second-factor (enrol there "
           "first if you have not), or call the API with an API token"),
    phrase("this API token may only read (scope read) — make one that may act with govcloud "
           "tokens add --owner NAME --scope write"),
    phrase("this acts on the whole estate (its apply, closing a month) and you are limited to "
           "an organisation's subtree — someone not scoped to one does it (govcloud apply, "
           "govcloud statement close)"),
)

# Zones, the example estate's pools, a website's kind, a change's action and a journal's
# phases, the chargeback's and the savings' columns and their idle and total rows, audit
# actions and sources, the page's own footer
DATA_WORDS = (
    phrase("intranet"), phrase("extranet"),
    phrase("hosts"), phrase("storage-backup"), phrase("web-platform"), phrase("security"),
    phrase("network"), phrase("operations-staff"), phrase("adjustment"), phrase("total"),
    phrase("php"), phrase("static"), phrase("proxy"),
    phrase("create"), phrase("update"), phrase("resize"), phrase("replace"),
    phrase("delete"), phrase("blocked"), phrase("no-op"),
    phrase("started"), phrase("done"), phrase("failed"), phrase("ok"), phrase("partial"),
    phrase("department"), phrase("name"), phrase("legacy_servers"), phrase("legacy_cost"),
    phrase("consolidated_cost"), phrase("saving"), phrase("saving_per_year"),
    phrase("(idle)"), phrase("(total)"), phrase("idle capacity (charged to no department)"),
    phrase("platform cost"), phrase("idle platform capacity"), phrase("estate"),
    phrase("(subtree)"), phrase("these departments together"),
    phrase("pool"), phrase("yuan"),
    phrase("apply"), phrase("request new"), phrase("request approve"),
    phrase("request reject"), phrase("request return"), phrase("request returned"),
    phrase("request judged again"), phrase("request withdraw"), phrase("request resubmit"),
    phrase("request comment"), phrase("sign-in"), phrase("sign-in failed"),
    phrase("sign-in error"), phrase("sign-in second factor"), phrase("second factor enrol"),
    phrase("second factor reset"), phrase("token add"), phrase("token revoke"),
    phrase("user add"), phrase("user disable"), phrase("user role"),
    phrase("statement close"), phrase("statement reopen"), phrase("refused"),
    phrase("refusals sampled"), phrase("notify failed"), phrase("session end"),
    phrase("portal"), phrase("cli"),
    phrase("in the plan, not in the cloud"), phrase("matches the plan"),
    phrase("the request adds it"), phrase("the request removes it"),
    phrase("not run from the portal: run govcloud services run --department ID"),
    phrase("write the month as YYYY-MM"), phrase("see the request list"),
    phrase("choose one from the list"), phrase("govcloud history lists every apply"),
    # a request's note after an approval wrote a plan file changed since it was filed
    phrase("judged again: the plan file had changed"),
)

# Messages made with values. A placeholder named ``fields`` holds words of the catalogue
# (a list, comma-separated): each is translated too.
PATTERNS = (
    phrase("no request {number} of {department}"),
    phrase("no department '{department}'"),
    phrase("no month '{month}'"),
    phrase("request {number}"),
    phrase("apply {id}"),
    phrase("no apply {id}"),
    phrase("statement {month}"),  # a month's close or reopen in the audit trail
    phrase("{who} (portal, {where})"),  # who holds an apply started from the portal
    # a change's reason in a plan: what moves (its field, translated), from what to what
    phrase("{fields} {before} → {after}"),
    phrase("the request changes {fields}"),
    phrase("{month} is not over yet: close it after {day}"),
    phrase("no usage is recorded for {month}: nothing to close"),
    phrase("{month} is already closed (by {by})"),
    phrase("{month} has not begun"), phrase("choose {month} or an earlier month"),
    # the shipped policies (govcloud/templates/policies.yaml)
    phrase("quota.instances is {quota} but the servers need {need}"),
    phrase("raise quota.instances to at least {need} or remove servers"),
    phrase("quota.cores is {quota} but the servers' flavors need {need} vCPUs"),
    phrase("raise quota.cores to at least {need} or choose smaller flavors"),
    phrase("quota.ram_gb is {quota} but the servers' flavors need {need} GiB"),
    phrase("raise quota.ram_gb to at least {need}"),
    phrase("quota allows {volumes} volumes / {volume_gb} GB but the servers ask for "
           "{need_volumes} / {need_gb} GB"),
    phrase("raise quota.volumes and quota.volume_gb, or lower servers' volume_gb"),
    phrase("quota.websites is {quota} but {need} websites are listed"),
    phrase("raise quota.websites to at least {need}"),
    phrase("flavor '{flavor}' is not in the estate catalogue"),
    phrase("image '{image}' is not in the estate catalogue"),
    phrase("did you mean '{near}'? use one of: {choices}"),
    phrase("use one of: {choices}"),
    phrase("server '{server}' turns antivirus or backup off without a reasoned exemption"),
    phrase("turn both on, or write 'exemption:' with the reason (at least 20 characters)"),
    phrase("antivirus and backup must stay enabled for a department that runs servers"),
    phrase("set services.antivirus.enabled and services.backup.enabled to true"),
    phrase("domain '{domain}' is outside the allowed suffixes"),
    phrase("use a domain under {suffixes}"),
    phrase("intranet department hosts public website '{domain}'"),
    phrase("set 'public: false' (intranet-only site) or host it from an extranet department"),
    phrase("backup retention is out of bounds (daily ≥ 7, monthly ≤ 120, at most 400 "
           "snapshots kept)"),
    phrase("set retention.daily to 7 or more and keep the total number of snapshots at 400 "
           "or less"),
    phrase("anti_affinity on '{server}' has no effect with a single replica"),
    phrase("raise count to 2 or more, or drop anti_affinity"),
)
