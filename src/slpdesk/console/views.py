from django.http import HttpResponse


def queue(request):
    return HttpResponse("console")


escalations = calendars = new_case = queue
