"""Requests: a department's proposed edit of its plan, judged before it is filed
(``assessment``), approved by the people the approval rules name and written to the plan file
(``decisions``; who can take a step: ``deciders``), stored in the requests table
(``records``); e-mail to the people a request
waits for (``notify``); requests that wait too long (``escalation``)."""
