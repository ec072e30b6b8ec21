"""The data of each route, by name (``routes.Route.name``): one function serves a page and its
API twin, so what a person sees and what a program reads are the same figures, from the
engine and the finance code the CLI uses. The endpoint (``endpoints.Endpoints``) renders the
data with the template of the same name, or returns it as JSON.

One module per kind of page: ``home``, ``departments``, ``requests``, ``finance``,
``operations``, ``applies`` (an apply from the portal) and ``oversight`` (the audit trail,
the accounts); ``results`` holds what a view returns besides data, ``months`` the months the
finance figures are read for."""

from govcloud.portal.views.registry import VIEWS, warm

__all__ = ["VIEWS", "warm"]
