# An office on two PPPoE lines (fibre and DSL) balanced 1:1 by PCC, with an LTE modem as the
# backup: the carrier gives it an address behind its CGNAT, and its default route waits at
# distance 3. Netwatch watches a host beyond each line and takes the line's marked table out
# when the host stops answering; a session that drops takes its interface and routes down.
/interface ethernet
set [ find default-name=ether1 ] name=ether1-fibre
set [ find default-name=ether2 ] name=ether2-dsl
set [ find default-name=ether3 ] name=LAN

/ppp profile
add name=wan-events on-up=":log info \"\$interface up as \$\"local-address\"\"; /ip firewall address-list add list=wan-up address=\$\"local-address\" comment=\$interface" on-down=":log warning \"\$interface down\""

/interface pppoe-client
add name=pppoe-fibre interface=ether1-fibre user=office@fibre profile=wan-events keepalive-timeout=10 disabled=no
add name=pppoe-dsl interface=ether2-dsl user=office@dsl profile=wan-events keepalive-timeout=10 disabled=no

/interface lte apn
add name=carrier apn=internet add-default-route=yes default-route-distance=3

/ip address
add address=10.10.0.1/24 interface=LAN

/routing table
add name=to_fibre fib
add name=to_dsl fib

/ip route
add gateway=pppoe-fibre distance=1 comment="main: fibre"
add gateway=pppoe-dsl distance=2 comment="main: dsl"
add gateway=pppoe-fibre routing-table=to_fibre comment="fibre"
add gateway=pppoe-dsl routing-table=to_dsl comment="dsl"
# Each netwatch host is reached through its own line only.
add dst-address=1.1.1.1/32 gateway=pppoe-fibre
add dst-address=9.9.9.9/32 gateway=pppoe-dsl

/tool netwatch
add host=1.1.1.1 interval=5s timeout=1s down-script="/ip route disable [find comment=\"fibre\"]" up-script="/ip route enable [find comment=\"fibre\"]"
add host=9.9.9.9 interval=5s timeout=1s down-script="/ip route disable [find comment=\"dsl\"]" up-script="/ip route enable [find comment=\"dsl\"]"

/ip firewall mangle
add chain=prerouting in-interface=pppoe-fibre connection-mark=no-mark action=mark-connection new-connection-mark=fibre_conn
add chain=prerouting in-interface=pppoe-dsl connection-mark=no-mark action=mark-connection new-connection-mark=dsl_conn
add chain=prerouting in-interface=LAN connection-mark=no-mark dst-address-type=!local per-connection-classifier=both-addresses:2/0 action=mark-connection new-connection-mark=fibre_conn
add chain=prerouting in-interface=LAN connection-mark=no-mark dst-address-type=!local per-connection-classifier=both-addresses:2/1 action=mark-connection new-connection-mark=dsl_conn
add chain=prerouting in-interface=LAN connection-mark=fibre_conn action=mark-routing new-routing-mark=to_fibre
add chain=prerouting in-interface=LAN connection-mark=dsl_conn action=mark-routing new-routing-mark=to_dsl
add chain=output connection-mark=fibre_conn action=mark-routing new-routing-mark=to_fibre
add chain=output connection-mark=dsl_conn action=mark-routing new-routing-mark=to_dsl

/ip firewall nat
add chain=srcnat out-interface=pppoe-fibre action=masquerade
add chain=srcnat out-interface=pppoe-dsl action=masquerade
add chain=srcnat out-interface=lte1 action=masquerade
