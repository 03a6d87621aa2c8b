"""The host agent (issue 17): one per worker host, next to its supervisord.

- link.py       the stream to the master (HostGateway.Connect): hello,
                enrollment, reports, commands; reconnects with backoff
- relay.py      a command from the master as calls to the local supervisord
- resources.py  the host's CPU, memory and disk (psutil)
- main.py       hiscrm-hostagent: settings, logging, supervision
"""
