"""Reports and sharing: pseudonymised exports, HTML reports, STIX, platform notices."""
