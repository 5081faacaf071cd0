"""CloudFront: a distribution's edge (``edge``), its cache (``cache``), CloudFront's rules as pure functions
(``policy``), its origins (``origins``) and its standard access logs (``logs``)."""
