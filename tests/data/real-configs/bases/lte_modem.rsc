# An LTE modem as the only WAN, its address from the carrier.
/interface lte apn
add name=carrier apn=internet add-default-route=yes default-route-distance=1
/ip firewall nat
add chain=srcnat out-interface=lte1 action=masquerade
