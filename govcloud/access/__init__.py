"""People and access: the people who sign in to the portal, their roles and sign-in throttling,
locally or through Keystone (``users``), and the API tokens programs use (``tokens``)."""
