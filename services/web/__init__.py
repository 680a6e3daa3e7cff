"""The web page for coordinators and clinicians: sign-in, worklists, a client's care plan, break-glass."""
