"""The words a record of an uninspected request may keep from its URL path and host name.

One rule (``proxy.record.unseen``): **a path segment or host label is kept only when each of
its words is a route word below (or a single letter) and the detector's selector finds
nothing in it; everything else is ``[withheld]``** (a host keeps its last two labels: the
destination). A route word is one a program puts in a URL, never a person: an allow-list,
because any other word (``zhangwei``, ``alice``, ``张伟``) may be someone's name and nothing
inspected it. Add words here (lower case, no names) when reviewers miss them.

  >>> "orders" in ROUTE_WORDS, "zhang" in ROUTE_WORDS, "alice" in ROUTE_WORDS
  (True, False, False)
"""

from __future__ import annotations

_WORDS = """
  about access account accounts action actions activate activity add admin after agent
  agents alert alerts all analytics answer answers api apis app apply apps
  archive archives article articles asset assets assistants attachment attachments audio
  audit auth authorize avatar avatars backup backups balance bank banks batch before beta
  big billing bin blob blobs block blog blogs board body bomb book booking bookings books
  branch branches browse bucket buckets build builds bulk cache cached calendar call
  callback calls campaign campaigns cancel card cards cart carts catalog categories category
  cdn chat chats check checkout checks chunk chunked chunks claim claims clean client
  clients close cloud cluster code codes collect collection collections comment comments
  commit commits companies company completions complaint complaints config configs confirm
  connect contact contacts content contents contract contracts conversation conversations
  count coupon coupons create credit credits crm csv customer customers cut dashboard data
  database day debug default delete deliveries delivery deploy detail details dev device
  devices dist doc docs document documents done download downloads draft drafts edit
  email embeddings employee employees end endpoint engine error errors event events
  expect explore export exports extra feed feedback feeds fetch field fields file files
  filter finance find flow flows folder folders follow form forms full gateway generate get
  git gql graph graphql group groups gz healthz held help history home hook hooks hr html
  id ids image images import imports inbox in index info internal invoice invoices issue
  issues item items job jobs js json key keys label labels latest lead leads ledger list
  lists live load local log login logout logs mail main manage manifest map media member
  members message messages metrics mixed mobile model models new news next note notes
  notification notifications notify oauth object objects offer offers ok old only open
  order orders org orgs out over owner owners pack package packages pages
  partner partners patch path pay payment payments payroll pdf people permissions photo
  photos plan plans play pod policies policy post posts preview price prices private
  product products profile profiles project projects proxy public pull push put query
  queue quote quotes raw read readyz receipt receipts receive record records redirect
  refund refunds register release releases remote remove render repo report reports repos
  request requests reset resource resources response responses rest result results review
  reviews role roles root rpc rule rules run save schema search secure send server
  service services session sessions set settings setup share shipment shipments shop
  sign signin signup silent site sitemap slow small snapshot source spec start stat static
  stats status steady stock storage store stores stream streamed streams submit
  subscription subscriptions summary support sync system table tables tag tags task tasks
  team teams template templates test text thread threads ticket tickets token tokens
  tool tools track tracking transaction transactions transfer transfers trickle trigger
  txt type types ui update updates upload uploads usage user users validate value
  values verify version versions video view views wallet watch web webhook webhooks
  widget widgets wiki work workers workflow workflows write ws www xml zip
  allow allowed bar baz blocked br chunk deadline deflate demo example fail foo gzip
  health hello large leak limit limits mask masked multipart oversize pong probe ready
  refuse refused sample sink timeout world zstd
"""
ROUTE_WORDS = frozenset(_WORDS.split())  # prose above: easy to read and extend
