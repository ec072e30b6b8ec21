"""Requests: a department's proposed edit of its plan, judged before it is filed, approved by
the people the approval rules name and written to the plan file (``decisions``); e-mail to the
people a request waits for (``notify``); requests that wait too long (``escalation``)."""
