"""Writes data/sample_feed.jsonl: the demo's own feed (fictional stories, our own words).

Four stories from several outlets, two republished copies (one verbatim with site chrome, one
lightly edited), one HTML body, one IPTC ninjs item, and malformed messages for the DLQ.
Run: python data/make_sample_feed.py
"""

import json
from pathlib import Path

T = "2026-11-{day:02d}T{hh:02d}:{mm:02d}:00Z"

STRIKE_WIRE = [
    "Dockworkers at Port Alder walked off the job on Monday, halting container traffic at the country's second-largest harbour in a dispute over automation and pay.",
    "The Harbour Workers Union said about 4,200 members joined the strike after talks with the Port Alder Authority collapsed late on Sunday.",
    "\"We are not against new cranes, we are against losing our jobs to them without a plan,\" union secretary Mara Okafor told reporters outside the main gate.",
    "The port authority said 31 ships were waiting at anchor by Monday afternoon and warned that fresh food deliveries to northern supermarkets could be delayed within days.",
    "Transport minister Ilse Brandt urged both sides to return to mediation and said the government would not intervene in the dispute for now.",
]

ARTICLES = [
    # --- Story A: Port Alder strike -------------------------------------------------------
    dict(id="wire-strike-1", source="Northwire", title="Port Alder dockworkers strike over automation plan",
         body="\n\n".join(STRIKE_WIRE), published_at=T.format(day=16, hh=9, mm=5), section="business"),
    dict(id="coast-strike-1", source="Coastal Herald", title="Strike shuts Port Alder as union rejects crane deal",
         body="\n\n".join([
             "Port Alder's container terminals fell silent on Monday as about 4,200 dockworkers went on strike, the Harbour Workers Union said.",
             "The walkout follows months of talks over the port authority's plan to install 40 automated stacking cranes by 2028, which the union says would cut up to 900 jobs.",
             "Union secretary Mara Okafor said the union had offered a phased plan with retraining, but the Port Alder Authority rejected it on Sunday night.",
             "By the afternoon 31 vessels were waiting at anchor outside the harbour, according to port data.",
             "Exporters of frozen fish and timber said the strike would cost them millions if it lasted more than a week.",
         ]), published_at=T.format(day=16, hh=10, mm=40)),
    dict(id="capital-strike-1", source="Capital Times", title="Government stays out of Port Alder strike",
         body="\n\n".join([
             "Transport minister Ilse Brandt said on Monday the government would not step into the strike at Port Alder, where dockworkers stopped work over automation and pay.",
             "Brandt urged the Harbour Workers Union and the Port Alder Authority to return to mediation, saying a long stoppage would hurt the whole economy.",
             "Opposition lawmakers accused the government of ignoring warnings about the dispute for months.",
             "Supermarket chains in the north said they were moving some deliveries to rail to keep fresh food on shelves.",
         ]), published_at=T.format(day=16, hh=12, mm=15)),
    # verbatim republication of the wire copy, with site chrome around it
    dict(id="metro-strike-1", source="Metro Daily", title="Dockworkers walk out at Port Alder",
         body="Skip to main content\n\nBusiness | Ports\n\n" + "\n\n".join(STRIKE_WIRE)
         + "\n\nRelated: Five things to know about port automation\n\nSign up for our daily newsletter\n\nShare this article",
         published_at=T.format(day=16, hh=11, mm=0)),
    # lightly edited copy of the wire story
    dict(id="valley-strike-1", source="Valley Courier", title="Port Alder strike halts container traffic",
         body="\n\n".join([
             "Dockworkers at Port Alder walked off the job on Monday, stopping container traffic at the country's second-biggest harbour in a row over automation and wages.",
             "The Harbour Workers Union said around 4,200 members joined the strike after talks with the Port Alder Authority broke down late on Sunday.",
             "\"We are not against new cranes, we are against losing our jobs to them without a plan,\" union secretary Mara Okafor told reporters at the main gate.",
             "The port authority said 31 ships were waiting at anchor by Monday afternoon and warned that fresh food deliveries to northern supermarkets might be delayed within days.",
             "Transport minister Ilse Brandt urged both sides to go back to mediation and said the government would not intervene for now.",
         ]), published_at=T.format(day=16, hh=13, mm=30)),
    # --- Story B: Kestrel Valley earthquake -----------------------------------------------
    dict(id="wire-quake-1", source="Northwire", title="Strong earthquake shakes Kestrel Valley, damaging homes",
         body="\n\n".join([
             "A magnitude 6.1 earthquake struck the Kestrel Valley early on Tuesday, damaging hundreds of homes and cutting power to the town of Harrowgate.",
             "The national seismology office said the quake hit at 4:12 a.m. at a depth of 11 kilometres, about 20 kilometres east of Harrowgate.",
             "Regional governor Tomas Lind said two people were killed and at least 37 were injured, most of them by falling masonry.",
             "Rescue teams were searching collapsed farm buildings in three villages, and the army sent field kitchens to Harrowgate's football stadium.",
         ]), published_at=T.format(day=17, hh=6, mm=30), section="world"),
    dict(id="coast-quake-1", source="Coastal Herald", title="Two dead as 6.1 quake hits Kestrel Valley",
         body="\n\n".join([
             "Two people died and dozens were hurt when a magnitude 6.1 earthquake hit the Kestrel Valley before dawn on Tuesday, governor Tomas Lind said.",
             "Residents of Harrowgate ran into the streets as the shaking, which lasted about 20 seconds, brought down chimneys and church towers.",
             "More than 40 aftershocks followed in the next six hours, the strongest of magnitude 4.8, the seismology office said.",
             "Schools across the valley will stay closed for the rest of the week while engineers inspect buildings.",
         ]), published_at=T.format(day=17, hh=8, mm=0)),
    dict(id="capital-quake-1", source="Capital Times", title="Kestrel Valley earthquake: army deployed as aftershocks continue",
         body="<html><body><nav>Home | World</nav><h1>Kestrel Valley earthquake</h1>"
         "<p>The government deployed 600 soldiers to the Kestrel Valley on Tuesday after a magnitude 6.1 earthquake killed two people and damaged hundreds of homes around Harrowgate.</p>"
         "<p>Prime minister Aino Verho said emergency funds would be released the same day and promised that no family would be left without shelter this winter.</p>"
         "<p>Aftershocks continued through the morning, and power was restored to about half of Harrowgate by noon, the grid operator said.</p>"
         "<script>trackPageView()</script></body></html>",
         published_at=T.format(day=17, hh=11, mm=45)),
    # --- Story C: Norland central bank ----------------------------------------------------
    dict(id="wire-rates-1", source="Northwire", title="Norland central bank raises rates to 4.25%",
         body="\n\n".join([
             "The Bank of Norland raised its main interest rate by a quarter point to 4.25 percent on Thursday, its third increase this year, as inflation stayed well above target.",
             "Governor Elena Varga said consumer prices rose 5.2 percent in October from a year earlier, driven by energy and rents.",
             "\"We will do what is needed to bring inflation back to two percent,\" Varga told a news conference, adding that further increases could not be ruled out.",
             "The Norland crown rose 0.6 percent against the euro after the decision.",
         ]), published_at=T.format(day=19, hh=13, mm=10), section="business"),
    dict(id="capital-rates-1", source="Capital Times", title="Bank of Norland lifts rates again as inflation bites",
         body="\n\n".join([
             "The Bank of Norland lifted its benchmark rate to 4.25 percent on Thursday, saying inflation of 5.2 percent was eroding household incomes.",
             "Two of the seven members of the rate committee voted to keep rates unchanged, the bank's minutes showed.",
             "Homeowners with variable-rate mortgages will pay on average 38 crowns more a month, the national housing association estimated.",
             "Governor Elena Varga said the bank expected inflation to fall below four percent by the end of next year.",
         ]), published_at=T.format(day=19, hh=14, mm=0)),
    dict(id="valley-rates-1", source="Valley Courier", title="Rate rise to hit mortgage holders, housing group warns",
         body="\n\n".join([
             "Norland's housing association warned on Thursday that the central bank's rate increase to 4.25 percent would push more families into arrears.",
             "The Bank of Norland raised borrowing costs for the third time this year, with governor Elena Varga pointing to stubborn inflation in energy and rents.",
             "Builders said new housing projects were already being delayed because of higher financing costs.",
         ]), published_at=T.format(day=19, hh=15, mm=20)),
    # --- Story D: Vesna marathon ----------------------------------------------------------
    dict(id="coast-marathon-1", source="Coastal Herald", title="Kiprono smashes Vesna marathon course record",
         body="\n\n".join([
             "Kenyan runner David Kiprono won the Vesna marathon on Sunday in 2 hours 4 minutes and 51 seconds, breaking the course record by more than a minute.",
             "Kiprono broke away from the leading group at the 30-kilometre mark and ran the last ten kilometres alone along the river.",
             "Ethiopia's Hana Desta won the women's race in 2:19:40, her first marathon victory.",
             "Organisers said a record 18,500 runners finished the race in cool and dry weather.",
         ]), published_at=T.format(day=22, hh=12, mm=30), section="sport"),
    # ninjs 2.x item (mapped on ingest)
    {"uri": "urn:newsml:capitaltimes:marathon-1", "type": "text", "language": "en",
     "versioncreated": T.format(day=22, hh=13, mm=5), "copyrightholder": "Capital Times",
     "headlines": [{"role": "main", "value": "Course record falls as Kiprono wins Vesna marathon"}],
     "bodies": [{"role": "text", "value": "\n\n".join([
         "David Kiprono of Kenya set a course record of 2:04:51 to win the Vesna marathon on Sunday, more than a minute faster than the old mark.",
         "Hana Desta of Ethiopia took the women's title in 2:19:40, pulling away from defending champion Lotte Berg in the final five kilometres.",
         "A record 18,500 runners finished, the organisers said, and the city closed its river bridges to traffic for most of the day.",
     ])}]},
    # --- Story A develops the next day --------------------------------------------------------
    dict(id="wire-strike-2", source="Northwire", title="Port Alder strike talks to resume under mediator",
         body="\n\n".join([
             "The Harbour Workers Union and the Port Alder Authority agreed on Tuesday to resume talks under a state mediator, as the dockworkers' strike entered its second day.",
             "The mediator, former judge Paul Ostrem, said the first session would take place on Wednesday morning and that both sides had agreed not to speak to the press until then.",
             "The number of ships waiting outside Port Alder rose to 44, and two shipping lines said they would divert vessels to the southern port of Lindqvist.",
             "Union secretary Mara Okafor said the strike would continue while talks were under way.",
         ]), published_at=T.format(day=17, hh=15, mm=0)),
]

MALFORMED = [
    b'{"id": "broken-1", "source": "Northwire", "title": "Cut off',
    json.dumps({"id": "no-body-1", "source": "Coastal Herald", "title": "A title without a body"}).encode(),
    json.dumps({"id": 12345, "source": ["not", "a", "string"], "body": "Wrong types."}).encode(),
    json.dumps({"id": "empty-1", "source": "Metro Daily", "title": "Empty", "body": "   "}).encode(),
    b"this line is not JSON at all",
]


def main() -> None:
    lines = [json.dumps(a, ensure_ascii=False).encode() for a in ARTICLES]
    # Interleave the malformed messages through the feed, and send one article twice (a retry).
    for index, bad in enumerate(MALFORMED):
        lines.insert(2 + index * 3, bad)
    lines.insert(9, lines[0])
    out = Path(__file__).with_name("sample_feed.jsonl")
    out.write_bytes(b"\n".join(lines) + b"\n")
    print(f"wrote {out} ({len(lines)} messages)")


if __name__ == "__main__":
    main()
