"""The portal's messages that no template writes as ``t("…")``: words a page shows from its
data (a state, a role, a kind of request, a quota item), labels a template passes to its
macros, and messages made below the portal (refusals, policy messages, change reasons, the
chargeback's headers, audit actions). ``phrase("…")`` marks each for ``pybabel extract`` (a
keyword of ``babel.cfg``'s extraction, see docs/portal.md) and returns it unchanged.

``PATTERNS``: messages made with values, written with named placeholders. ``i18n`` matches
a text against them and fills the translation of the one it was made from."""

from __future__ import annotations

import re


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
    # the finance workbook's own sheets (reports.xlsx, books.accounts)
    phrase("Utilization"), phrase("Savings sources"), phrase("Unit costs"),
    phrase("Rate card"), phrase("Assumptions"), phrase("assumption"),
    # the shipped price book's billed items (prices.yaml) the unit costs page lists
    phrase("vcpu"), phrase("disk_gb"), phrase("backup_gb"), phrase("antivirus_seat"),
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
    phrase("request {number} is {state} (decided by {actor} at {at})"),
    phrase("request {number} is {state}"),
    phrase("request {number}"),
    phrase("apply {id}"),
    phrase("no apply {id}"),
    phrase("statement {month}"),  # a month's close or reopen in the audit trail
    phrase("{who} (portal, {where})"),  # who holds an apply started from the portal
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
) + (
    # a request's field diagnostics (core.diagnosis, core.requests): the longer first, as the
    # first pattern that matches is the one translated
    phrase("{value} is below the minimum {minimum}"),
    phrase("use a value of at least {minimum}"),
    phrase("{value} is above the maximum {maximum}"),
    phrase("use a value of at most {maximum}"),
    phrase("{value} is not a finite number"),
    phrase("expected {expected}, got {value} (text)"),
    phrase("expected {expected}, got {value} (a number)"),
    phrase("expected {expected}, got {value} (a boolean; YAML reads yes/no/on/off as "
           "true/false)"),
    phrase("expected {expected}, got {got}"),
    phrase("write {expected}, e.g. {example} (quote it)"),
    phrase("write {expected}, e.g. {example}"),
    phrase("write {expected} (quote it)"),
    phrase("write {expected}"),
    phrase("missing required key '{key}'"),
    phrase("add '{key}:' ({description})"), phrase("add '{key}:'"),
    phrase("{value} contains {bad}, which could break a generated config or shell command"),
    phrase("{value} is not valid here"),
    phrase("is {length} characters, over {maximum}"),
    phrase("{value} is not allowed"),
    phrase("unknown key '{key}'"), phrase("did you mean '{near}'?"),
    phrase("allowed keys here: {keys}"),
    phrase("{count} items, more than the {maximum} allowed"),
    phrase("needs at least {count} item(s)"),
    phrase("{value} is listed twice"),
    phrase("{value} is not a schedule cron accepts: {reason}"),
    phrase("unknown kind of request {kind}"), phrase("one of: {choices}"),
    phrase("a server {name} is already in the plan"),
    phrase("{domain} is already in the plan"),
    phrase("no website {domain} in the plan"),
    phrase("no server {name} in the plan"),
    phrase("Refused: {why}."),
    # refusals of a decision (requests.decisions, core.approvals) and of a month
    # (books.closing, books.accounts)
    phrase("{person} cannot decide request {number}: {why}"),
    phrase("you have already approved this request: it now waits for {role}'s approval"),
    phrase("the request waits for {role}'s approval, not {own}'s"),
    phrase("the request waits for {role}'s approval, not {own}'s ({why})"),
    phrase("{month} is already closed"),
    phrase("{month} is not over yet ({window})"),
    phrase("close it after {day}"),
    phrase("{month} month to date ({hours} of {total} hours, to {end} UTC)"),
    phrase("no usage is recorded for {month}"),
    phrase("run govcloud usage collect --period {month} first"),
    phrase("{month} is before the estate's record began ({first}): nothing of it ran then"),
    phrase("give a month from {since} to {until}"),
    phrase("{month} is before the estate's record began ({first}): nothing of it ran then — "
           "give a month from {since} to {until}"),
    phrase("no usage is recorded for {month} — run govcloud usage collect --period {again} "
           "first"),
    phrase("judged again before it was written: the plan file had changed, and the request "
           "now needs {roles}"),
    phrase("no day {value} (from)"), phrase("no day {value} (to)"),  # the audit page's filter
    phrase("{person} (portal, {process})"),  # who holds an apply (state.store.holder_id)
    phrase("a post from another origin ({origin})"),
)

# The words of a request's field diagnostics (core.diagnosis, core.patterns' hints,
# core.requests) and of the refusals of a post (portal.csrf, portal.endpoints)
DIAGNOSTIC_WORDS = (
    phrase("text"), phrase("a whole number"), phrase("a number"), phrase("true or false"),
    phrase("a mapping of keys"), phrase("a list"), phrase("a mapping"),
    phrase("nothing (null)"), phrase("is empty"), phrase("write a value"),
    phrase("shorten it"), phrase("write a number such as 0.5"),
    phrase("split or shorten the list"), phrase("add one"), phrase("list each item once"),
    phrase("unknown key that is not a plain name (not shown)"),
    phrase("a quote"), phrase("a backquote"), phrase("a backslash"), phrase("a newline"),
    phrase("a carriage return"), phrase("a tab"), phrase("a NUL byte"), phrase("a space"),
    phrase("use 2-40 lowercase letters, digits and '-', starting with a letter, e.g. "
           "'finance'"),
    phrase("use lowercase letters, digits, '.' and '-', e.g. 'web-01'"),
    phrase("use a lowercase DNS name such as 'czj.qingdao.gov.cn'"),
    phrase("remove quotes, ';', '{', '}', '$', '\\', '<', '>', '|', '&' and line breaks"),
    phrase("use a plain http(s) URL such as 'http://10.0.0.5:8080/app'"),
    phrase("write five fields separated by single spaces: minute 0-59, hour 0-23, day of "
           "month 1-31, month 1-12 or jan-dec, weekday 0-7 or sun-sat (0 and 7 are Sunday); "
           "each '*', a value, a range 'a-b' (a ≤ b), a list 'a,b' or a step '*/n' or "
           "'a-b/n' (n ≥ 1), e.g. '30 2 * * 1-5'"),
    phrase("a request is an object of fields"),
    phrase("the kind of request is missing"),
    phrase("the reason is only white space"),
    phrase("say why it is needed: the approvers read it"),
    phrase("name one server or one website to remove"),
    phrase("give \"server\": NAME or \"website\": DOMAIN"),
    phrase("no quota asked for"),
    phrase("give at least one of instances, cores, ram_gb, volumes, volume_gb, websites"),
    phrase("choose another domain"),
    phrase("choose another name, or ask for more replicas"),
    phrase("choose one of the plan's websites"), phrase("the plan has no servers"),
    # what a required field is (its schema's description)
    phrase("Shared antivirus (ClamAV)"), phrase("Disaster-recovery backup (restic)"),
    phrase("How many replicas in all"), phrase("The department's id"),
    phrase("Domain the site answers to"), phrase("Flavor from the estate catalogue"),
    phrase("The new flavor"), phrase("Image from the estate catalogue"),
    phrase("What is asked"),
    phrase("Server name, unique in the estate; replicas after the first get -2, -3 … "
           "appended"),
    phrase("Quota the department is granted on the shared cloud"),
    phrase("Why it is needed (shown to the approvers)"), phrase("One server spec"),
    phrase("The server's name"), phrase("One website"),
    # refused posts
    phrase("a form without a length, or larger than 64 KB"),
    phrase("a body without a length, or larger than 64 KB"),
    phrase("a form without this session's CSRF token (reload the page)"),
    phrase("a cross-site post"), phrase("a post from another site"),
    # audit actions of the request's life (requests.followups, escalation), the directory
    # (estate.organisations) and the trail's pruning; who did what where no one signed in
    phrase("request comment"), phrase("request withdraw"), phrase("request resubmit"),
    phrase("request escalate"), phrase("audit prune"), phrase("directory add"),
    phrase("directory rename"), phrase("directory retire"), phrase("directory update"),
    phrase("(not signed in)"),
    # a server's, a volume's and a website's attributes a change's reason names
    # (core.planning: ``flavor m1.small → m1.large``)
    phrase("flavor"), phrase("image"), phrase("size_gb"), phrase("protected"),
    phrase("count"), phrase("storage_gb"), phrase("public"), phrase("upstream"),
    phrase("write the day as YYYY-MM-DD"),
    # a request's note and its life's (requests.decisions, applying.engine, request.html)
    phrase("judged again: the plan file had changed"), phrase("from the portal"),
    phrase("a service playbook failed: see govcloud services run"),
    phrase("not reached: an earlier change of its department failed"),
    phrase("the request shows who it waits for"), phrase("only a waiting request is decided"),
    phrase("a closed month cannot change; reopen it (govcloud statement reopen) or adjust a "
           "later month"),
    phrase("nobody approves their own request (separation of duties)"),
    phrase("the request needs no more approval"),
    phrase("an approver signs off only their own department's requests"),
    phrase("you approved an earlier step of this request; another person approves this one"),
    phrase("an operator"), phrase("a member"), phrase("an approver"), phrase("a finance"),
    phrase("an auditor"),
)

# A request's field (its path in the request, as a diagnostic names it) by the label its
# form gives it; a quota item's label is the item's word.
FIELD_LABELS = {
    "kind": phrase("Kind of request"), "reason": phrase("Reason"),
    "server": phrase("Server"), "count": phrase("How many in all"),
    "flavor": phrase("Flavor"), "website": phrase("Website"),
    "server.name": phrase("Name"), "server.flavor": phrase("Flavor"),
    "server.image": phrase("Image"), "server.count": phrase("How many"),
    "server.volume_gb": phrase("Data volume per server (GB)"),
    "website.domain": phrase("Domain"), "website.kind": phrase("Kind"),
    "website.upstream": phrase("Backend URL (proxy sites)"),
    "website.storage_gb": phrase("Storage (GB)"),
    "website.public": phrase("Published on the internet"),
    "backup.enabled": phrase("On"), "backup.schedule": phrase("Schedule (cron)"),
    "antivirus.enabled": phrase("On"), "antivirus.schedule": phrase("Schedule (cron)"),
}


_IN_PLAN = re.compile(r"(server|website)s\[\d+\]\.(\w+)")


def field_label(path: str) -> str:
    """The label (English, for the catalogue) of a request's field, "" for a path that is
    no field of a request's form. A policy names the field in the plan the request made
    (``servers[3].flavor``): that is the form's field too."""
    if path.startswith("quota.") and path.count(".") == 1:
        return path.split(".")[1]
    found = _IN_PLAN.fullmatch(path)
    if found:
        path = f"{found.group(1)}.{found.group(2)}"
    return FIELD_LABELS.get(path, "")
