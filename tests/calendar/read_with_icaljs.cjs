// Reads an iCalendar file on stdin with ical.js (the parser inside Thunderbird) and prints what
// a calendar app shows, as JSON: the calendar's properties and each event's.
const ICAL = require(require("path").join(process.cwd(), "node_modules", "ical.js", "dist", "ical.es5.cjs"));

let text = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { text += chunk; });
process.stdin.on("end", () => {
  const calendar = new ICAL.Component(ICAL.parse(text));
  const props = {};
  for (const name of ["method", "name", "x-wr-calname", "description", "source", "refresh-interval"]) {
    const value = calendar.getFirstPropertyValue(name);
    props[name] = value === null ? null : String(value);
  }
  const events = calendar.getAllSubcomponents("vevent").map((vevent) => {
    const event = new ICAL.Event(vevent);
    const categories = [];
    for (const prop of vevent.getAllProperties("categories")) categories.push(...prop.getValues().map(String));
    const organizer = vevent.getFirstProperty("organizer");
    const attendee = vevent.getFirstProperty("attendee");
    return {
      uid: event.uid, summary: event.summary, description: event.description, location: event.location,
      sequence: event.sequence, status: vevent.getFirstPropertyValue("status"),
      start: event.startDate ? event.startDate.toString() : null,
      lastModified: String(vevent.getFirstPropertyValue("last-modified")),
      categories,
      organizer: organizer && { value: organizer.getFirstValue(), cn: organizer.getParameter("cn") },
      attendee: attendee && { value: attendee.getFirstValue(), cn: attendee.getParameter("cn"),
                              partstat: attendee.getParameter("partstat") },
      alarms: vevent.getAllSubcomponents("valarm").map((alarm) => String(alarm.getFirstPropertyValue("trigger"))),
    };
  });
  process.stdout.write(JSON.stringify({ props, events }));
});
