"""The OpenStack driver: compute (``driver``), network (``network``) and identity
(``identity``) through openstacksdk."""
